import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { OctaneController } from './octane.controller';
import { OctaneService } from './octane.service';

@Module({
  imports: [AccessModule],
  controllers: [OctaneController],
  providers: [OctaneService],
})
export class OctaneModule {}
