import { DynamicModule, Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { AuthGuard, AuthModule } from '@app/auth';
import { OctaneClient, QwietClient, VendorCall } from '@app/upstream';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';
import { AuditModule } from './audit/audit.module';
import { ConsoleModule } from './console/console.module';
import { CLOCK, Clock, systemClock } from './common/clock';
import { CredentialsModule } from './credentials/credentials.module';
import { GatewayExceptionFilter } from './common/gateway-exception.filter';
import { OwnCredentials } from './common/own-credentials';
import { createValidationPipe } from './common/validation';
import { DatabaseModule } from './database/database.module';
import { DriftModule } from './drift/drift.module';
import { GATEWAY_CONFIG } from './config/config.tokens';
import type { GatewayConfig } from './config/gateway.config';
import { HealthModule } from './health/health.module';
import { MetricsModule } from './metrics/metrics.module';
import { NotificationsModule } from './notifications/notifications.module';
import { MetricsService } from './metrics/metrics.service';
import { CallerThrottlerGuard } from './limits/caller-throttler.guard';
import { FixedWindowThrottlerStorage } from './limits/fixed-window.storage';
import { OctaneModule } from './octane/octane.module';
import { PolicyModule } from './policy/policy.module';
import { QwietModule } from './qwiet/qwiet.module';
import { SessionModule } from './session/session.module';

export interface AppModuleOptions {
  /** The gateway's pino logger (createGatewayLogger): Nest's log lines go there too. */
  logger: Logger;
  /** The lifecycle's clock (wall time unless a test gives the simulator's). */
  clock?: Clock;
}

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
  static forRoot(config: GatewayConfig, { logger, clock }: AppModuleOptions): DynamicModule {
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
          pinoHttp: { logger },
          // No per-request middleware: the request lines come from a Fastify hook (logAnswers).
          forRoutes: [],
        }),
        AuthModule.forRoot(config.auth),
        ThrottlerModule.forRoot({
          throttlers: [{ name: 'default', ttl: 60_000, limit: config.rateLimitPerMinute }],
          storage: new FixedWindowThrottlerStorage(),
        }),
        DatabaseModule,
        MetricsModule,
        AuditModule,
        HealthModule,
        PolicyModule,
        QwietModule,
        OctaneModule,
        DriftModule,
        NotificationsModule,
        SessionModule,
        CredentialsModule,
        ConsoleModule,
      ],
      providers: [
        { provide: GATEWAY_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock ?? systemClock },
        OwnCredentials,
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
      exports: [GATEWAY_CONFIG, CLOCK, QwietClient, OctaneClient, OwnCredentials],
    };
  }
}
