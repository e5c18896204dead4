import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { OctaneApiAccessOperations } from '../octane/octane-api-access.operations';
import { PolicyModule } from '../policy/policy.module';
import { QwietTokenOperations } from '../qwiet/qwiet-token.operations';
import { IdempotencyKeys } from './idempotency';
import { IssuancePipeline } from './issuance.pipeline';
import { LostAnswers } from './lost-answers';
import { OperationsRegistry } from './operations.registry';
import { IssuanceRecovery } from './recovery.service';
import { RevocationVerifier } from './verification';

/** The issuance pipeline, the operation of each vendor action, lost answers and crash recovery. */
@Module({
  imports: [AuditModule, PolicyModule],
  providers: [
    IssuancePipeline,
    IdempotencyKeys,
    LostAnswers,
    IssuanceRecovery,
    RevocationVerifier,
    QwietTokenOperations,
    OctaneApiAccessOperations,
    {
      provide: OperationsRegistry,
      inject: [QwietTokenOperations, OctaneApiAccessOperations],
      useFactory: (qwiet: QwietTokenOperations, octane: OctaneApiAccessOperations) =>
        new OperationsRegistry([
          qwiet.issue,
          qwiet.revoke,
          octane.create,
          octane.revoke,
          octane.regenerate,
        ]),
    },
  ],
  exports: [IssuancePipeline, RevocationVerifier, QwietTokenOperations, OctaneApiAccessOperations],
})
export class IssuanceModule {}
