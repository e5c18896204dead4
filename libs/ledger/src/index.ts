export { Database, DatabaseUnreachableError } from './database';
export type { DatabaseOptions, StoreHealth } from './database';
export { databaseUrlProblem, redactDatabaseUrl } from './database-url';
export {
  applyMigrations,
  checksumOf,
  loadMigrations,
  MIGRATION_LOCK_KEY,
  MIGRATIONS_DIR,
  MigrationError,
} from './migrations';
export type { AppliedMigration, Migration, MigrationReport } from './migrations';
