import { Module } from '@nestjs/common';
import { IssuanceModule } from '../issuance/issuance.module';
import { PolicyModule } from '../policy/policy.module';
import { QwietController, QwietMethodNotAllowed } from './qwiet.controller';
import { QwietService } from './qwiet.service';

@Module({
  imports: [PolicyModule, IssuanceModule],
  controllers: [QwietController, QwietMethodNotAllowed],
  providers: [QwietService],
})
export class QwietModule {}
