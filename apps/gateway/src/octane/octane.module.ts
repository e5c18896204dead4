import { Module } from '@nestjs/common';
import { IssuanceModule } from '../issuance/issuance.module';
import { PolicyModule } from '../policy/policy.module';
import {
  OctaneApiAccessDeleteController,
  OctaneMethodNotAllowed,
  OctaneSignInController,
} from './octane-sign-in.controller';
import { OctaneRotation } from './octane-rotation.service';
import { OctaneController, OctaneRotateController } from './octane.controller';
import { OctaneService } from './octane.service';

@Module({
  imports: [PolicyModule, IssuanceModule],
  controllers: [
    OctaneController,
    OctaneSignInController,
    OctaneApiAccessDeleteController,
    OctaneMethodNotAllowed,
    OctaneRotateController,
  ],
  providers: [OctaneService, OctaneRotation],
  // Offboarding and leaks revoke through it: one change at a time per key, as the vendor route.
  exports: [OctaneService],
})
export class OctaneModule {}
