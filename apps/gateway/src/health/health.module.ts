import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { AuditModule } from '../audit/audit.module';
import { AuditHealthIndicator } from './audit-health.indicator';
import { VendorHealthIndicator } from './vendor-health.indicator';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), AuditModule],
  controllers: [HealthController],
  providers: [VendorHealthIndicator, AuditHealthIndicator],
})
export class HealthModule {}
