import { Module } from '@nestjs/common';
import { IssuanceCounter } from '../limits/issuance-counter';
import { PolicyModule } from '../policy/policy.module';
import { AuditQueryService } from './audit-query.service';
import { AuditRecovery } from './audit-recovery.service';
import { AuditController } from './audit.controller';
import { AuditService } from './audit.service';
import { AuditedCall } from './audited-call';
import { CredentialReconciler } from './credential-reconciler';
import { LostAnswers } from './lost-answers';

@Module({
  imports: [PolicyModule],
  controllers: [AuditController],
  providers: [
    AuditService,
    AuditedCall,
    AuditQueryService,
    AuditRecovery,
    CredentialReconciler,
    LostAnswers,
    IssuanceCounter,
  ],
  exports: [AuditService, AuditedCall, IssuanceCounter],
})
export class AuditModule {}
