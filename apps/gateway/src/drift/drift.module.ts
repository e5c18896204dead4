import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { IssuanceModule } from '../issuance/issuance.module';
import { PolicyModule } from '../policy/policy.module';
import { DriftController } from './drift.controller';
import { DriftQueryService } from './drift-query.service';
import { ReconcileScheduler } from './reconcile.scheduler';
import { Reconciler } from './reconciler.service';

/** Drift reconciliation: the vendors against the ledger (README "Credential lifecycle", Drift). */
@Module({
  imports: [AuditModule, PolicyModule, IssuanceModule],
  controllers: [DriftController],
  providers: [Reconciler, ReconcileScheduler, DriftQueryService],
})
export class DriftModule {}
