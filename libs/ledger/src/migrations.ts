import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientBase } from 'pg';

/**
 * The schema's versioned migrations: `migrations/NNNN_name.sql`, applied in order, each once, each
 * in its own transaction, recorded in `schema_migrations` with the checksum of its text. They are
 * read at run time from beside this file (`nest build` copies them: nest-cli.json `assets`).
 */
export const MIGRATIONS_DIR = join(__dirname, 'migrations');

/**
 * Key of the session advisory lock that migrators hold while they look and apply: two instances
 * starting together take turns, and the second finds everything applied. (The bytes of "keygate"
 * and 0x01: any constant would do, as long as every release uses the same.)
 */
export const MIGRATION_LOCK_KEY = '7738725019629675777';

const FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  /** `0001` */
  version: string;
  /** `ledger` */
  name: string;
  sql: string;
  /** SHA-256 of the text (line ends normalised), hex. */
  checksum: string;
}

export interface AppliedMigration {
  version: string;
  name: string;
  checksum: string;
  appliedAt: Date;
}

export interface MigrationReport {
  /** What this call applied, in order. */
  applied: Migration[];
  /** Every migration the database has now, this call's included. */
  current: AppliedMigration[];
  /** Applied versions this release does not know (a newer release migrated the database). */
  unknown: string[];
}

/** A migration file or record that cannot be trusted: nothing was applied. */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export const checksumOf = (sql: string): string =>
  createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');

/** The migrations of `dir`, in version order; a misnamed .sql file or a repeated version is an error. */
export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const migrations = files.map((file) => {
    const match = FILE.exec(file);
    if (!match)
      throw new MigrationError(`migration file ${file} is not named NNNN_name.sql (in ${dir})`);
    const sql = readFileSync(join(dir, file), 'utf8');
    return { version: match[1], name: match[2], sql, checksum: checksumOf(sql) };
  });
  migrations.forEach((m, i) => {
    if (i > 0 && migrations[i - 1].version === m.version)
      throw new MigrationError(`two migrations have version ${m.version} (in ${dir})`);
  });
  if (migrations.length === 0) throw new MigrationError(`no migration found in ${dir}`);
  return migrations;
}

const CREATE_TABLE = `CREATE TABLE schema_migrations (
  version    text        PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

async function appliedMigrations(client: ClientBase): Promise<AppliedMigration[]> {
  const { rows } = await client.query<{
    version: string;
    name: string;
    checksum: string;
    applied_at: Date;
  }>('SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version');
  return rows.map((r) => ({
    version: r.version,
    name: r.name,
    checksum: r.checksum,
    appliedAt: r.applied_at,
  }));
}

/**
 * Applies the pending migrations over `client` (a dedicated connection) under the advisory lock.
 * Refuses, naming it, an applied migration whose file changed since (its checksum differs), before
 * applying anything.
 */
export async function applyMigrations(
  client: ClientBase,
  migrations: Migration[],
): Promise<MigrationReport> {
  await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
  try {
    // Look before creating: a least-privilege role may read the table but not create in the schema.
    const { rows } = await client.query<{ exists: boolean }>(
      "SELECT to_regclass('schema_migrations') IS NOT NULL AS exists",
    );
    if (!rows[0].exists) await client.query(CREATE_TABLE);
    const before = await appliedMigrations(client);
    const known = new Map(migrations.map((m) => [m.version, m]));
    for (const done of before) {
      const migration = known.get(done.version);
      if (migration && migration.checksum !== done.checksum)
        throw new MigrationError(
          `migration ${done.version}_${done.name} was changed after it was applied ` +
            `(checksum ${done.checksum.slice(0, 12)}… in schema_migrations, ` +
            `${migration.checksum.slice(0, 12)}… in ${done.version}_${migration.name}.sql): ` +
            'restore the file as it was applied, and put the change in a new migration',
        );
    }
    const appliedVersions = new Set(before.map((m) => m.version));
    const pending = migrations.filter((m) => !appliedVersions.has(m.version));
    for (const migration of pending) {
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query(
          'INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
          [migration.version, migration.name, migration.checksum],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new MigrationError(
          `migration ${migration.version}_${migration.name} failed: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
    return {
      applied: pending,
      current: await appliedMigrations(client),
      unknown: before.map((m) => m.version).filter((v) => !known.has(v)),
    };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
  }
}
