import { DynamicModule, Global, Module, RequestMethod } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { AuthGuard, AuthModule } from '@app/auth';
import { OctaneClient, QwietClient, VendorCall } from '@app/upstream';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AuditModule } from './audit/audit.module';
import { GatewayExceptionFilter } from './common/gateway-exception.filter';
import { requestIdFor } from './common/request-id';
import { createValidationPipe } from './common/validation';
import { GATEWAY_CONFIG } from './config/config.tokens';
import type { GatewayConfig } from './config/gateway.config';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { MetricsService } from './metrics/metrics.service';
import { CallerThrottlerGuard } from './limits/caller-throttler.guard';
import { OctaneModule } from './octane/octane.module';
import { PolicyModule } from './policy/policy.module';
import { QwietModule } from './qwiet/qwiet.module';

export interface AppModuleOptions {
  /** Where log lines go (stdout by default); tests capture them to prove no secret is written. */
  logStream?: DestinationStream;
}

/** Headers and fields that must never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];

const withObserver = (config: GatewayConfig, metrics: MetricsService) => ({
  ...config.transport,
  observe: (call: VendorCall) => metrics.observeVendorCall(call),
});

function observed<T extends QwietClient | OctaneClient>(client: T, metrics: MetricsService): T {
  client.circuit.onChange((state) =>
    metrics.observeCircuit(client instanceof QwietClient ? 'qwiet' : 'octane', state),
  );
  return client;
}

@Global()
@Module({})
export class AppModule {
  static forRoot(config: GatewayConfig, options: AppModuleOptions = {}): DynamicModule {
    const pinoHttp = {
      level: config.log.level,
      genReqId: requestIdFor,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      autoLogging: { ignore: (req: { url?: string }) => req.url?.startsWith('/health') ?? false },
      serializers: {
        req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url,
          remoteAddress: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    };
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot({
          isGlobal: true,
          ignoreEnvFile: true,
          ignoreEnvVars: true,
          load: [() => ({ ...config })],
        }),
        LoggerModule.forRoot({
          pinoHttp: options.logStream ? [pinoHttp, options.logStream] : pinoHttp,
          forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
        }),
        AuthModule.forRoot(config.auth),
        ThrottlerModule.forRoot({
          throttlers: [{ name: 'default', ttl: 60_000, limit: config.rateLimitPerMinute }],
        }),
        MetricsModule,
        AuditModule,
        HealthModule,
        PolicyModule,
        QwietModule,
        OctaneModule,
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        {
          provide: QwietClient,
          inject: [MetricsService],
          useFactory: (m: MetricsService) =>
            observed(new QwietClient(config.qwiet, withObserver(config, m)), m),
        },
        {
          provide: OctaneClient,
          inject: [MetricsService],
          useFactory: (m: MetricsService) =>
            observed(new OctaneClient(config.octane, withObserver(config, m)), m),
        },
        // Guards run in this order: who is calling, then how often they may.
        { provide: APP_GUARD, useExisting: AuthGuard },
        { provide: APP_GUARD, useClass: CallerThrottlerGuard },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: GatewayExceptionFilter },
      ],
      exports: [GATEWAY_CONFIG, QwietClient, OctaneClient],
    };
  }
}
