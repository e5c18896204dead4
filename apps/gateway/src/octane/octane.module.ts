import { Module } from '@nestjs/common';
import { PolicyModule } from '../policy/policy.module';
import { OctaneController } from './octane.controller';
import { OctaneService } from './octane.service';

@Module({
  imports: [PolicyModule],
  controllers: [OctaneController],
  providers: [OctaneService],
})
export class OctaneModule {}
