import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { Logger } from 'nestjs-pino';
import { AppModule, AppModuleOptions } from './app.module';
import { refusePrototypeKeys, requireJsonBodies } from './common/json-only.middleware';
import type { GatewayConfig } from './config/gateway.config';

const apiHelmet = helmet();
// Swagger UI needs its inline bootstrap script and styles; only /docs gets that allowance.
const docsHelmet = helmet({
  contentSecurityPolicy: {
    directives: {
      scriptSrc: ["'self'", "'unsafe-inline'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
    },
  },
});

/** The gateway as main.ts runs it and as the e2e tests exercise it: one wiring for both. */
export async function createGateway(
  config: GatewayConfig,
  options: AppModuleOptions = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, options), {
    bufferLogs: true,
    bodyParser: false,
    // Start-up errors (an invalid policy) reach the caller instead of exiting the process.
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  // Vendor answers are not cached by clients: hashing every body for an ETag is wasted work.
  app.set('etag', false);
  app.use((req: { path: string }, res: unknown, next: () => void) =>
    (req.path.startsWith('/docs') ? docsHelmet : apiHelmet)(req as never, res as never, next),
  );
  app.use(requireJsonBodies);
  app.useBodyParser('json', {
    limit: config.http.bodyLimit,
    strict: true,
    verify: refusePrototypeKeys,
  });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Keygate')
      .setDescription(
        'One company endpoint for Qwiet API v4 tokens and ALM Octane API access keys. ' +
          'Vendor paths are kept after the /qwiet and /octane prefixes; errors come in the envelope of the vendor addressed.',
      )
      .setVersion('1')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description: 'Company JWT (sub, team, roles)',
      })
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
