import { Module } from '@nestjs/common';
import { PolicyModule } from '../policy/policy.module';
import { AuditService } from './audit.service';
import { AuditedCall } from './audited-call';

@Module({
  imports: [PolicyModule],
  providers: [AuditService, AuditedCall],
  exports: [AuditService, AuditedCall],
})
export class AuditModule {}
