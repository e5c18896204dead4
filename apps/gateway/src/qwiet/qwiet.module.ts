import { Module } from '@nestjs/common';
import { PolicyModule } from '../policy/policy.module';
import { QwietController } from './qwiet.controller';
import { QwietService } from './qwiet.service';

@Module({
  imports: [PolicyModule],
  controllers: [QwietController],
  providers: [QwietService],
})
export class QwietModule {}
