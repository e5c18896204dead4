import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DatabaseUnreachableError, MigrationError } from '@app/ledger';
import { PolicyError } from '@app/policy';
import { createGateway } from './bootstrap';
import { ConfigError } from './config/env.validation';
import type { GatewayConfig } from './config/gateway.config';

/**
 * What both entry points (main.ts in production, main.dev.ts for `npm start`) do once they hold a
 * configuration: build the gateway, stop it gracefully on SIGTERM/SIGINT, listen, and say where.
 */
export async function serve(
  config: GatewayConfig,
): Promise<{ app: NestFastifyApplication; url: string }> {
  const app = await createGateway(config);
  // Only the signals that mean "stop" (Nest's default list includes SIGUSR2, used for profiling).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(config.http.port, config.http.host);
  const url = await app.getUrl();
  process.stdout.write(`Keygate listening on ${url}\n`);
  return { app, url };
}

/**
 * A failed start: configuration, policy and database problems by their message (each problem
 * named, no stack, no value of a secret), anything else with its stack; then exit status 1.
 */
export function exitOnStartupFailure(error: unknown): never {
  const known =
    error instanceof ConfigError ||
    error instanceof PolicyError ||
    error instanceof DatabaseUnreachableError ||
    error instanceof MigrationError;
  process.stderr.write(
    `${known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
}
