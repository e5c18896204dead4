import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Database,
  DatabaseUnreachableError,
  loadMigrations,
  MigrationError,
  MIGRATIONS_DIR,
} from '@app/ledger';
import { createTestDatabase, TestDatabase, useDatabase } from '../support/db';
import { freePort } from '../support/processes';

const GENESIS = '0'.repeat(64);
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** A record row as the ledger will write it (the line's content does not matter to the schema). */
function record(seq: number, prevHash: string) {
  const line = `{"seq":${seq},"prev_hash":"${prevHash}"}`;
  return { seq, prevHash, hash: sha(line), line };
}

async function insert(db: Database, r: ReturnType<typeof record>): Promise<void> {
  await db.query(
    `INSERT INTO ledger_records (seq, prev_hash, hash, time, event, phase, actor, line)
     VALUES ($1, $2, $3, now(), 'qwiet.token.issue', 'attempt', '{"subject":"alice","team":"payments"}', $4)`,
    [r.seq, r.prevHash, r.hash, r.line],
  );
}

describe('migrations (a real PostgreSQL)', () => {
  let fresh: TestDatabase;
  const open: Database[] = [];
  const connect = async (url: string) => {
    const db = await Database.connect({ url });
    open.push(db);
    return db;
  };
  beforeEach(async () => {
    fresh = await createTestDatabase({ migrated: false });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((db) => db.close()));
    await fresh.drop();
  });

  it('apply once to an empty database, recorded with name and checksum, and are idempotent', async () => {
    const shipped = loadMigrations();
    expect(shipped.map((m) => `${m.version}_${m.name}`)).toContain('0001_ledger');
    const db = await connect(fresh.url);
    expect(await db.schemaVersion()).toBeUndefined();

    const first = await db.migrate();
    expect(first.applied.map((m) => m.version)).toEqual(shipped.map((m) => m.version));
    const { rows } = await db.query(
      'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version',
    );
    expect(rows).toEqual(
      shipped.map((m) => ({
        version: m.version,
        name: m.name,
        checksum: m.checksum,
        applied_at: expect.any(Date),
      })),
    );
    expect(await db.schemaVersion()).toBe(shipped.at(-1)?.version);

    const second = await db.migrate();
    expect(second.applied).toEqual([]);
    expect(second.current).toHaveLength(shipped.length);
    const tables = await db.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual([
      'credentials',
      'expiry_notices',
      'idempotency_keys',
      'ledger_checkpoints',
      'ledger_head',
      'ledger_records',
      'login_requests',
      'notification_deliveries',
      'notification_events',
      'quota_reservations',
      'recovery_watermark',
      'revocation_checks',
      'schema_migrations',
      'sessions',
    ]);
  });

  it('started together by two instances (two pools, at once), apply each migration exactly once', async () => {
    const [a, b] = await Promise.all([connect(fresh.url), connect(fresh.url)]);
    const reports = await Promise.all([a.migrate(), b.migrate()]);
    const shipped = loadMigrations().map((m) => m.version);
    // One of them applied everything; the other waited on the lock and found nothing to do.
    expect(reports.map((r) => r.applied.length).sort()).toEqual([0, shipped.length]);
    const { rows } = await a.query(
      'SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version',
    );
    expect(rows).toEqual(shipped.map((version) => ({ version, n: 1 })));
  });

  it('refuse, naming it, an applied migration whose file changed since, and apply nothing', async () => {
    const db = await connect(fresh.url);
    await db.migrate();
    const shipped = loadMigrations();
    const changed = shipped.map((m, i) =>
      i === 0 ? { ...m, sql: `${m.sql}\n-- edited`, checksum: sha(`${m.sql}\n-- edited`) } : m,
    );
    const next = {
      version: '9999',
      name: 'later',
      sql: 'CREATE TABLE later (id int)',
      checksum: sha('later'),
    };
    const refused = db.migrate([...changed, next]);
    await expect(refused).rejects.toThrow(MigrationError);
    await expect(refused).rejects.toThrow(/migration 0001_ledger was changed after it was applied/);
    const later = await db.query("SELECT to_regclass('later') AS t");
    expect(later.rows[0].t).toBeNull();
    // The lock went with the broken connection: a corrected migrator goes on at once.
    expect((await db.migrate([...shipped, next])).applied.map((m) => m.version)).toEqual(['9999']);
  });

  it('load from the directory in version order and refuse a misnamed file', () => {
    expect(MIGRATIONS_DIR.endsWith(join('libs', 'ledger', 'src', 'migrations'))).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'keygate-migrations-'));
    writeFileSync(join(dir, '0002_b.sql'), 'SELECT 2');
    writeFileSync(join(dir, '0001_a.sql'), 'SELECT 1');
    expect(loadMigrations(dir).map((m) => m.name)).toEqual(['a', 'b']);
    writeFileSync(join(dir, 'extra.sql'), 'SELECT 3');
    expect(() => loadMigrations(dir)).toThrow(/extra.sql is not named NNNN_name.sql/);
  });
});

describe('the ledger schema (a migrated database per file, from the template)', () => {
  const store = useDatabase();
  let db: Database;
  beforeAll(async () => {
    db = await Database.connect({ url: store.url });
    // Two records of a chain, and the head on the second.
    const first = record(1, GENESIS);
    await insert(db, first);
    await insert(db, record(2, first.hash));
    await db.query("INSERT INTO ledger_head (seq, hash, mac) VALUES (2, $1, 'mac')", [
      record(2, first.hash).hash,
    ]);
  });
  afterAll(async () => {
    await db.close();
  });

  it('refuses UPDATE, DELETE and TRUNCATE of ledger records (a trigger, whoever asks)', async () => {
    await expect(db.query("UPDATE ledger_records SET note = 'x' WHERE seq = 1")).rejects.toThrow(
      /ledger records are append-only: UPDATE refused on ledger_records/,
    );
    await expect(db.query('DELETE FROM ledger_records WHERE seq = 2')).rejects.toThrow(
      /append-only: DELETE refused/,
    );
    await expect(db.query('TRUNCATE ledger_records CASCADE')).rejects.toThrow(
      /append-only: TRUNCATE refused/,
    );
    await expect(db.query('DELETE FROM ledger_head')).rejects.toThrow(
      /DELETE refused on ledger_head/,
    );
    const { rows } = await db.query(
      'SELECT count(*)::int AS n FROM ledger_records WHERE note IS NULL',
    );
    expect(rows[0].n).toBe(2);
  });

  it('refuses a gap or a fork in the chain, and a head that names no record', async () => {
    const second = record(2, record(1, GENESIS).hash);
    await expect(insert(db, record(4, second.hash))).rejects.toThrow(/ledger_records_chain/);
    await expect(insert(db, record(3, sha('another chain')))).rejects.toThrow(
      /ledger_records_chain/,
    );
    await expect(insert(db, record(2, record(1, GENESIS).hash))).rejects.toThrow(
      /ledger_records_pkey/,
    );
    await expect(db.query('UPDATE ledger_head SET seq = 3, hash = $1', [sha('x')])).rejects.toThrow(
      /ledger_head_record/,
    );
    await insert(db, record(3, second.hash));
  });

  it('keeps one inventory row per vendor, scope and credential id', async () => {
    const row = `INSERT INTO credentials (vendor, scope, credential_id, owner_team, subject, created_at)
                 VALUES ('qwiet', 'org-a', 'tok-1', 'payments', 'alice', now())`;
    await db.query(row);
    await expect(db.query(row)).rejects.toThrow(/credentials_pkey/);
    await db.query(row.replace("'org-a'", "'org-b'"));
    await expect(
      db.query("UPDATE credentials SET status = 'revoked' WHERE credential_id = 'tok-1'"),
    ).rejects.toThrow(/credentials_check/);
    await db.query(
      "UPDATE credentials SET status = 'revoked', revoked_at = now(), revoked_by = 'bob' WHERE scope = 'org-a'",
    );
  });
});

describe('Database.connect', () => {
  it('names DATABASE_URL without its password when the server cannot be reached', async () => {
    const port = await freePort();
    const url = `postgres://keygate:s3cret-pass-word@127.0.0.1:${port}/keygate`;
    const failure = Database.connect({ url, connectTimeoutMs: 2000 });
    await expect(failure).rejects.toThrow(DatabaseUnreachableError);
    const message = await failure.catch((e: Error) => e.message);
    expect(message).toContain(`DATABASE_URL postgres://keygate:***@127.0.0.1:${port}/keygate`);
    expect(message).toContain('ECONNREFUSED');
    expect(message).not.toContain('s3cret-pass-word');
  });
});
