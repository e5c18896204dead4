import { Module } from '@nestjs/common';
import { IssuanceCounter } from '../limits/issuance-counter';
import { PolicyModule } from '../policy/policy.module';
import { AuditQueryService } from './audit-query.service';
import { AuditController } from './audit.controller';
import { AuditService } from './audit.service';

@Module({
  imports: [PolicyModule],
  controllers: [AuditController],
  providers: [AuditService, AuditQueryService, IssuanceCounter],
  exports: [AuditService, IssuanceCounter],
})
export class AuditModule {}
