import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { PolicyModule } from '../policy/policy.module';
import { DeliveryWorker } from './delivery-worker';
import { ExpiryScanner } from './expiry-scanner';
import { NotificationsController } from './notifications.controller';
import { NotificationsService } from './notifications.service';

/** Expiry notices and webhook deliveries from the transactional outbox (README "Notifications"). */
@Module({
  imports: [AuditModule, PolicyModule],
  controllers: [NotificationsController],
  providers: [ExpiryScanner, DeliveryWorker, NotificationsService],
})
export class NotificationsModule {}
