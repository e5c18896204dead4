import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { PolicyModule } from '../policy/policy.module';
import { OctaneController } from './octane.controller';
import { OctaneService } from './octane.service';

@Module({
  imports: [PolicyModule, AuditModule],
  controllers: [OctaneController],
  providers: [OctaneService],
})
export class OctaneModule {}
