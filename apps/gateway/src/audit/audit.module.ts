import { Module } from '@nestjs/common';
import { IssuanceCounter } from '../limits/issuance-counter';
import { PolicyModule } from '../policy/policy.module';
import { AuditQueryService } from './audit-query.service';
import { AuditCheckpoints } from './audit-checkpoints';
import { AuditController } from './audit.controller';
import { AuditService } from './audit.service';

@Module({
  imports: [PolicyModule],
  controllers: [AuditController],
  providers: [AuditService, AuditQueryService, IssuanceCounter, AuditCheckpoints],
  exports: [AuditService, IssuanceCounter],
})
export class AuditModule {}
