import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppModule } from './app.module';
import type { Clock } from './common/clock';
import { installHttpHooks } from './common/http-hooks';
import { requestIdFor } from './common/request-id';
import { createGatewayLogger, logAnswers } from './common/request-log';
import type { GatewayConfig } from './config/gateway.config';
import { countAnswers } from './metrics/request-metrics.hook';
import { MetricsService } from './metrics/metrics.service';

export interface GatewayOptions {
  /** Where log lines go (stdout by default); tests capture them to prove no secret is written. */
  logStream?: DestinationStream;
  /** The lifecycle's clock (wall time by default); tests give the simulator's. */
  clock?: Clock;
}

/** The gateway as main.ts runs it and as the e2e tests exercise it: one wiring for both. */
export async function createGateway(
  config: GatewayConfig,
  options: GatewayOptions = {},
): Promise<NestFastifyApplication> {
  const logger = createGatewayLogger(config.log.level, options.logStream);
  // Fastify over Express: measured by `npm run bench:profile`, Express's router and middleware
  // chain were the largest share of the gateway's own time.
  const adapter = new FastifyAdapter({
    bodyLimit: config.http.bodyLimitBytes,
    genReqId: requestIdFor,
    // TRUST_PROXY: X-Forwarded-For is believed only from these hops (request.ip, actor.ip).
    trustProxy: config.http.trustProxy ?? false,
    // Fastify turns off Node's limit on receiving a request (slow senders); 30 s is generous.
    requestTimeout: 30_000,
    // As under Express: `/tokens/` is `/tokens`.
    routerOptions: { ignoreTrailingSlash: true },
  });
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, { logger, clock: options.clock }),
    adapter,
    {
      bufferLogs: true,
      bodyParser: false,
      // Start-up errors (an invalid policy) reach the caller instead of exiting the process.
      abortOnError: false,
    },
  );
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  installHttpHooks(fastify, config.http.bodyLimitBytes);
  countAnswers(fastify, app.get(MetricsService));
  logAnswers(fastify, logger);

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Keygate')
      .setDescription(
        [
          'One company endpoint for Qwiet API v4 tokens and ALM Octane API access keys. ' +
            'Vendor paths are kept after the /qwiet and /octane prefixes; errors come in the ' +
            'envelope of the vendor addressed, each with a stable code.',
          '**Getting a token**: every route but the health probes needs `Authorization: Bearer <JWT>`, ' +
            "the company identity provider's JWT with the claims `sub` (who), `team` (whose policy " +
            'section and scopes apply) and optionally `roles` (`keygate:admin`, `keygate:security`, ' +
            '`keygate:auditor`, `keygate:metrics`). In development: ' +
            '`npm run -s token -- --team payments --sub alice`.',
          '**Octane clients** (OpenText’s SDK among them) use `<keygate>/octane` as their server ' +
            'and the JWT as an `Authorization` header: sign-in and sign-out succeed without a vendor ' +
            'credential (Keygate holds it).',
          '**Headers**: `X-Request-Id` on every answer; on a decided change ' +
            '`X-Keygate-Policy-Revision`, `X-Keygate-Policy-Warnings` (dry-run rules, clamps) and ' +
            '`Cache-Control: no-store`; `Retry-After` on 429 and 503; `WWW-Authenticate` on 401; ' +
            '`Allow` on 405.',
        ].join('\n\n'),
      )
      .setVersion('1')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'Company JWT (sub, team, roles); in development: npm run -s token -- --team payments --sub alice',
      })
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
