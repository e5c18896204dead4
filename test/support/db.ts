import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { AuditRecord } from '@app/audit';
import { Database, LedgerVerifyResult, verifyLedger } from '@app/ledger';

/**
 * Databases on the run's one PostgreSQL (started by pg-global-setup.mjs): each test file gets its
 * own, created from a template that has the migrations applied once per run (CREATE DATABASE ...
 * TEMPLATE copies files: far faster than migrating each one).
 */
const TEMPLATE = 'keygate_template';
/** Serialises the template's creation across jest workers. */
const TEMPLATE_LOCK = 4_219_003;

/** The server's URL (the `postgres` maintenance database). */
export function testServerUrl(): string {
  const url = process.env.KEYGATE_TEST_PG_URL;
  if (!url)
    throw new Error(
      'KEYGATE_TEST_PG_URL is not set: run the tests through jest (jest.config.ts starts PostgreSQL)',
    );
  return url;
}

/** `url` with another database name. */
export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

async function onServer<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: testServerUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function ensureTemplate(): Promise<void> {
  await onServer(async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        TEMPLATE,
      ]);
      if (rowCount) return;
      // Built under another name and renamed when complete: a worker never copies a half-made one.
      const building = `${TEMPLATE}_building`;
      await client.query(`DROP DATABASE IF EXISTS ${building}`);
      await client.query(`CREATE DATABASE ${building} TEMPLATE template0`);
      const database = await Database.connect({ url: withDatabase(testServerUrl(), building) });
      try {
        await database.migrate();
      } finally {
        await database.close();
      }
      await client.query(`ALTER DATABASE ${building} RENAME TO ${TEMPLATE}`);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
    }
  });
}

export interface TestDatabase {
  name: string;
  /** DATABASE_URL of this database. */
  url: string;
  drop(): Promise<void>;
}

/**
 * A new database: `migrated` (the default) is a copy of the template with every migration
 * applied; otherwise it is empty (template0), for tests of the migrations themselves.
 */
export async function createTestDatabase(
  options: { migrated?: boolean } = {},
): Promise<TestDatabase> {
  const migrated = options.migrated ?? true;
  if (migrated) await ensureTemplate();
  const name = `keygate_t_${randomBytes(6).toString('hex')}`;
  await onServer((client) =>
    client.query(`CREATE DATABASE ${name} TEMPLATE ${migrated ? TEMPLATE : 'template0'}`),
  );
  return {
    name,
    url: withDatabase(testServerUrl(), name),
    drop: async () => {
      await onServer((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/**
 * A migrated database of its own for one describe block (created before its tests, dropped after):
 * read `db.url` inside the tests.
 */
export function useDatabase(options: { migrated?: boolean } = {}) {
  const holder = {} as { db: TestDatabase; url: string };
  beforeAll(async () => {
    holder.db = await createTestDatabase(options);
    holder.url = holder.db.url;
  });
  afterAll(async () => {
    await holder.db?.drop();
  });
  return holder;
}

/** Runs one statement on the server as the test superuser (fault injection: ALTER DATABASE ...). */
export async function asServer(sql: string): Promise<void> {
  await onServer((client) => client.query(sql));
}

async function onDatabase<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Every record of the ledger at `url`, in chain order, as stored. */
export async function ledgerRecords(url: string): Promise<AuditRecord[]> {
  return onDatabase(url, async (client) => {
    const { rows } = await client.query<{ line: string }>(
      'SELECT line FROM ledger_records ORDER BY seq',
    );
    return rows.map((r) => JSON.parse(r.line) as AuditRecord);
  });
}

/**
 * Everything Keygate stored at `url`, as text: every ledger line, the head and every inventory
 * row (the tests search it for secrets).
 */
export async function storedText(url: string): Promise<string> {
  return onDatabase(url, async (client) => {
    const parts: string[] = [];
    for (const table of ['ledger_records', 'ledger_head', 'credentials', 'quota_reservations']) {
      const { rows } = await client.query(`SELECT * FROM ${table}`);
      parts.push(JSON.stringify(rows));
    }
    return parts.join('\n');
  });
}

/** The gateway sessions on database `name` ended (to make them reconnect under new settings). */
export async function terminateGatewaySessions(name: string): Promise<void> {
  await asServer(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND application_name = 'keygate-gateway'`,
  );
}

/** verifyLedger over the database at `url` (the head checked with the tests' audit key). */
export async function verifyStored(url: string, key: string): Promise<LedgerVerifyResult> {
  const database = await Database.connect({ url });
  try {
    return await verifyLedger(database, { key });
  } finally {
    await database.close();
  }
}

/** Runs statements on the database at `url` as the test superuser (grants, revokes). */
export async function asDatabase(url: string, sql: string): Promise<void> {
  await onDatabase(url, (client) => client.query(sql));
}
