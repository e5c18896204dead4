import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { PolicyModule } from '../policy/policy.module';
import {
  OctaneApiAccessDeleteController,
  OctaneMethodNotAllowed,
  OctaneSignInController,
} from './octane-sign-in.controller';
import { OctaneController } from './octane.controller';
import { OctaneService } from './octane.service';

@Module({
  imports: [PolicyModule, AuditModule],
  controllers: [
    OctaneController,
    OctaneSignInController,
    OctaneApiAccessDeleteController,
    OctaneMethodNotAllowed,
  ],
  providers: [OctaneService],
})
export class OctaneModule {}
