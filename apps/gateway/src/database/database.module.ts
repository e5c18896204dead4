import { Global, Inject, Injectable, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import { Database } from '@app/ledger';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { DATABASE } from './database.tokens';

/**
 * Connects to DATABASE_URL at start-up (a server that cannot be reached stops the start, naming
 * DATABASE_URL without its password) and applies the pending migrations under the advisory lock.
 */
export async function openGatewayDatabase(
  config: GatewayConfig,
  logger = new Logger('Database'),
): Promise<Database> {
  const database = await Database.connect({
    url: config.database.url,
    applicationName: 'keygate-gateway',
    onIdleError: (error) => logger.warn(`a database connection broke: ${error.message}`),
  });
  try {
    const report = await database.migrate();
    const version = report.current.at(-1)?.version ?? 'none';
    logger.log(
      report.applied.length > 0
        ? `applied migrations ${report.applied.map((m) => `${m.version}_${m.name}`).join(', ')} to ${database.safeUrl} (schema ${version})`
        : `schema up to date at ${database.safeUrl} (schema ${version})`,
    );
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
  return database;
}

/** Ends the pool once everything else has stopped. */
@Injectable()
class DatabaseShutdown implements OnApplicationShutdown {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  async onApplicationShutdown(): Promise<void> {
    await this.database.close();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: DATABASE,
      inject: [GATEWAY_CONFIG],
      useFactory: (config: GatewayConfig) => openGatewayDatabase(config),
    },
    DatabaseShutdown,
  ],
  exports: [DATABASE],
})
export class DatabaseModule {}
