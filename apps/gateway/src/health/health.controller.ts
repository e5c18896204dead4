import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { Public } from '@app/auth';
import type { FastifyReply } from 'fastify';
import { AuditHealthIndicator } from './audit-health.indicator';
import { VendorHealthIndicator } from './vendor-health.indicator';

@ApiTags('Health')
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly vendors: VendorHealthIndicator,
    private readonly audit: AuditHealthIndicator,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'The process is up' })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary: 'Both vendors answer and the audit log can be written (503 naming what is down)',
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    try {
      return await this.health.check([
        () => this.vendors.check('qwiet'),
        () => this.vendors.check('octane'),
        () => this.audit.check(),
      ]);
    } catch (error) {
      // Terminus reports "down" as an exception; its body is the report itself.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      reply.status(503);
      return error.getResponse();
    }
  }
}
