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
export { appendChainedBatch, inventoryKeyOf, PgLedgerSink } from './pg-ledger-sink';
export type { PgLedgerSinkOptions, PgSinkHealth } from './pg-ledger-sink';
export { ledgerLines, verifyLedger } from './pg-verify';
export type { LedgerVerifyOptions, LedgerVerifyProblem, LedgerVerifyResult } from './pg-verify';
export { verifyLedgerStream } from './ledger-verify';
export type {
  LedgerStreamProblem,
  LedgerStreamVerifyOptions,
  LedgerStreamVerifyResult,
} from './ledger-verify';
export { exportLedger, LedgerExportRefused } from './ledger-export';
export type { LedgerExportOptions, LedgerExportResult } from './ledger-export';
export { importAuditLog, LedgerImportRefused } from './ledger-import';
export type { LedgerImportOptions, LedgerImportResult } from './ledger-import';
export { checkLedgerEnd, storeCheckpoint } from './ledger-end';
export type { LedgerEnd, LedgerGap } from './ledger-end';
export { acceptLedgerLoss } from './ledger-accept-loss';
export type { LedgerLossAccepted } from './ledger-accept-loss';
