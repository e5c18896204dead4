import { Controller, Get, OnModuleInit, Req, Res } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { CallerVerifier, isAdmin, Public } from '@app/auth';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ReadinessService } from './readiness.service';

@ApiTags('Health')
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController implements OnModuleInit {
  private verifier!: CallerVerifier;

  constructor(
    private readonly health: HealthCheckService,
    private readonly readiness: ReadinessService,
    private readonly modules: ModuleRef,
  ) {}

  /** The verifier of the global guard (AuthModule, imported by the app module). */
  onModuleInit(): void {
    this.verifier = this.modules.get(CallerVerifier, { strict: false });
  }

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'The process is up' })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @ApiOperation({
    summary:
      "Both vendors accept Keygate's own credentials (checked in the background, never per probe) the audit ledger can be written and the store (PostgreSQL) answers: up or down per component, 503 when one is down; details for keygate:admin",
  })
  @ApiOkResponse({
    description:
      '{"status":"ok","info":{...},"error":{},"details":{"qwiet":{"status":"up"},"octane":{"status":"up"},"audit":{"status":"up"},"store":{"status":"up"}}}',
  })
  @ApiServiceUnavailableResponse({
    description: 'A component is down: named in `error` (details only for keygate:admin)',
  })
  async ready(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const { ok, components } = await this.readiness.ready(await this.isAdmin(req));
    const by = (up: boolean) =>
      Object.fromEntries(Object.entries(components).filter(([, c]) => (c.status === 'up') === up));
    if (!ok) reply.status(503);
    // The shape of @nestjs/terminus's answers, as /health/live.
    return { status: ok ? 'ok' : 'error', info: by(true), error: by(false), details: components };
  }

  /** The route is public: a missing or bad token is no error here, only no details. */
  private async isAdmin(req: FastifyRequest): Promise<boolean> {
    if (!req.headers.authorization) return false;
    try {
      return isAdmin(await this.verifier.verify(req.headers.authorization));
    } catch {
      return false;
    }
  }
}
