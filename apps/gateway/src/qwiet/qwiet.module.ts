import { Module } from '@nestjs/common';
import { AccessModule } from '../access/access.module';
import { QwietController } from './qwiet.controller';
import { QwietService } from './qwiet.service';

@Module({
  imports: [AccessModule],
  controllers: [QwietController],
  providers: [QwietService],
})
export class QwietModule {}
