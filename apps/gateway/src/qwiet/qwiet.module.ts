import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { PolicyModule } from '../policy/policy.module';
import { QwietController, QwietMethodNotAllowed } from './qwiet.controller';
import { QwietService } from './qwiet.service';

@Module({
  imports: [PolicyModule, AuditModule],
  controllers: [QwietController, QwietMethodNotAllowed],
  providers: [QwietService],
})
export class QwietModule {}
