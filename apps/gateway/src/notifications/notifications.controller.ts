import { Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { GatewayRole, RequireAnyRole } from '@app/auth';
import { NotificationsQueryDto } from './dto/notifications-query.dto';
import { NotificationsService } from './notifications.service';

@ApiTags('Notifications')
@ApiBearerAuth()
@Controller('v1/notifications')
export class NotificationsController {
  constructor(private readonly notifications: NotificationsService) {}

  @Get()
  @RequireAnyRole(GatewayRole.ADMIN, GatewayRole.SECURITY, GatewayRole.AUDITOR)
  @ApiOperation({
    summary:
      'Webhook deliveries, newest first: pending, delivered and failed, with attempts and the last error (admin, security or auditor)',
  })
  @ApiOkResponse({ description: '{ deliveries: NotificationDelivery[], next_before_id? }' })
  @ApiResponse({ status: 400, description: 'VALIDATION_FAILED: a filter or page parameter' })
  @ApiResponse({ status: 403, description: 'FORBIDDEN: not admin, security or auditor' })
  @ApiResponse({ status: 503, description: 'AUDIT_UNAVAILABLE: the database cannot be read' })
  list(@Query() query: NotificationsQueryDto) {
    return this.notifications.list(query);
  }

  @Post('run')
  @HttpCode(200)
  @RequireAnyRole(GatewayRole.ADMIN)
  @ApiOperation({
    summary:
      'Run the expiry scan and a delivery round now (admin); a part another instance is running is reported as skipped',
  })
  @ApiOkResponse({
    description:
      '{ scan: {expired, expiring} | {skipped}, delivery: {events, created, attempted, delivered, retrying, failed} | {skipped} }',
  })
  @ApiResponse({ status: 403, description: 'FORBIDDEN: not admin' })
  @ApiResponse({
    status: 503,
    description: 'AUDIT_UNAVAILABLE: the ledger or the outbox cannot be written',
  })
  run() {
    return this.notifications.run();
  }
}
