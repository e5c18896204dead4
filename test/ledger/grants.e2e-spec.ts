import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { Database } from '@app/ledger';
import { createTestDatabase, TestDatabase } from '../support/db';
import { readmeGrants } from '../support/grants';

const as = (url: string, user: string, password: string) => {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.toString();
};

describe("the README's least-privilege roles", () => {
  let db: TestDatabase;
  const open: Database[] = [];
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => {
    await Promise.all(open.map((d) => d.close()));
    await db.drop();
  });

  it('let the migrator migrate and the gateway append, never update or delete a record, nor change the schema', async () => {
    const { setup, afterMigrate } = readmeGrants();
    const superuser = new Client({ connectionString: db.url });
    await superuser.connect();
    await superuser.query(setup);
    await superuser.end();

    const migrator = await Database.connect({
      url: as(db.url, 'keygate_migrator', 'change-me-migrator'),
    });
    open.push(migrator);
    expect((await migrator.migrate()).applied.map((m) => m.version)).toContain('0001');
    await migrator.query(afterMigrate);

    // Every table the migrations make is granted to the gateway (a table without its grant fails
    // the first request that needs it, in production only).
    const { rows: ungranted } = await migrator.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables t
        WHERE table_schema = 'public' AND NOT EXISTS (
          SELECT 1 FROM information_schema.role_table_grants g
           WHERE g.table_name = t.table_name AND g.grantee = 'keygate_gateway')`,
    );
    expect(ungranted.map((r) => r.table_name)).toEqual([]);

    const gateway = await Database.connect({
      url: as(db.url, 'keygate_gateway', 'change-me-gateway'),
    });
    open.push(gateway);
    // Its start-up: the lock, a look at schema_migrations, nothing to apply.
    expect((await gateway.migrate()).applied).toEqual([]);
    const line = '{"seq":1}';
    const hash = createHash('sha256').update(line).digest('hex');
    await gateway.query(
      `INSERT INTO ledger_records (seq, prev_hash, hash, time, event, phase, actor, line)
       VALUES (1, $1, $2, now(), 'qwiet.token.issue', 'attempt', '{"subject":"a","team":"t"}', $3)`,
      ['0'.repeat(64), hash, line],
    );
    await gateway.query("INSERT INTO ledger_head (seq, hash, mac) VALUES (1, $1, 'm')", [hash]);
    await gateway.query("UPDATE ledger_head SET mac = 'm2'");
    await gateway.query(
      `INSERT INTO credentials (vendor, scope, credential_id, owner_team, subject, created_at)
       VALUES ('qwiet', 'org', 'tok', 't', 'a', now())`,
    );
    await gateway.query("UPDATE credentials SET status = 'expired'");
    expect(Number((await gateway.query('SELECT count(*) FROM ledger_records')).rows[0].count)).toBe(
      1,
    );

    for (const sql of [
      'DELETE FROM ledger_records',
      "UPDATE ledger_records SET note = 'x'",
      'DELETE FROM credentials',
      'TRUNCATE credentials',
      'DROP TRIGGER ledger_records_append_only ON ledger_records',
      'CREATE TABLE mine (id int)',
      "INSERT INTO schema_migrations (version, name, checksum) VALUES ('9999', 'x', 'x')",
    ])
      await expect(gateway.query(sql)).rejects.toThrow(/permission denied|must be owner/);
  });
});
