import { AuditEntry, chainLine, makeCheckpoint } from '@app/audit';
import { Database, verifyLedgerStream } from '@app/ledger';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditExportCommand } from '../../apps/cli/src/audit-export.command';
import { auditImportCommand } from '../../apps/cli/src/audit-import.command';
import { auditVerifyDbCommand } from '../../apps/cli/src/audit-verify.command';
import { createTestDatabase, TestDatabase } from '../support/db';
import { freePort, runToExit, tsNodeArgs } from '../support/processes';
import { fillLedger } from './ledger-fill';

const KEY = 'test-audit-hmac-key-long-enough-0123456789';

describe('keygate audit verify --db (a real PostgreSQL)', () => {
  const open: { close(): Promise<void> }[] = [];
  const dbs: TestDatabase[] = [];
  /** A ledger of its own (tampering tests spoil it), filled with `records` chained records. */
  const ledger = async (records: number) => {
    const db = await createTestDatabase();
    dbs.push(db);
    const database = await Database.connect({ url: db.url, applicationName: 'verify-test' });
    open.push(database);
    const head = records > 0 ? await fillLedger(database, records, KEY, 1_000) : undefined;
    return { db, database, head };
  };
  const hashAt = async (database: Database, seq: number) =>
    (
      await database.query<{ hash: string }>('SELECT hash FROM ledger_records WHERE seq = $1', [
        seq,
      ])
    ).rows[0].hash;
  const verify = (url: string, args: string[], key: string | undefined = KEY) =>
    auditVerifyDbCommand(['--db', ...args], { DATABASE_URL: url, AUDIT_HMAC_KEY: key });

  afterAll(async () => {
    for (const o of open) await o.close();
    for (const db of dbs) await db.drop();
  });

  it('streams the chain from seq 1 in pages to the MAC’d head: OK, with --json, through the CLI, never printing the password', async () => {
    const { db, database, head } = await ledger(2_500);
    // A pool of one connection: one session, no read-ahead, the same result.
    const single = await Database.connect({ url: db.url, max: 1 });
    open.push(single);
    expect(await verifyLedgerStream(single, { key: KEY, pageSize: 700 })).toMatchObject({
      ok: true,
      records: 2_500,
    });
    const direct = await verifyLedgerStream(database, { key: KEY, pageSize: 300 });
    expect(direct).toMatchObject({
      ok: true,
      records: 2_500,
      first: { seq: 1 },
      last: { seq: 2_500, hash: head?.hash },
      head: 'matches',
    });

    const json = await verify(db.url, ['--json']);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.output)).toMatchObject({
      ok: true,
      records: 2_500,
      head: 'matches',
      database: expect.stringContaining(':***@127.0.0.1'),
    });

    const password = decodeURIComponent(new URL(db.url).password);
    const run = await runToExit(
      [...tsNodeArgs('apps/cli/src/main.ts'), 'audit', 'verify', '--db'],
      { DATABASE_URL: db.url, AUDIT_HMAC_KEY: KEY },
      '\u0000never',
    );
    expect(run.code).toBe(0);
    expect(run.output).toMatch(/: OK\n +records: +2500, checked in [\d.]+ s \(\d+ records\/s\)/);
    expect(run.output).toContain('head:     matches');
    expect(run.output).not.toContain(password);
  }, 60_000);

  it('without the key the head is unverified and it fails, unless --no-head on purpose; an empty ledger fails', async () => {
    const { db } = await ledger(40);
    const noKey = await verify(db.url, [], '');
    expect(noKey.status).toBe(1);
    expect(noKey.output).toContain('head:     unverified (no key)');
    expect(noKey.output).toContain('head unverified: no key (AUDIT_HMAC_KEY)');
    const noHead = await verify(db.url, ['--no-head'], '');
    expect(noHead.status).toBe(0);
    expect(noHead.output).toContain('head:     not checked (--no-head)');
    expect(noHead.output).toContain('records cut from the end would not show');

    const empty = await ledger(0);
    const none = await verify(empty.db.url, []);
    expect(none.status).toBe(1);
    expect(none.output).toContain('the ledger has no head and no record');
    const noneNoHead = await verify(empty.db.url, ['--no-head']);
    expect(noneNoHead.status).toBe(1);
    expect(noneNoHead.output).toContain('problem:  empty');
  }, 60_000);

  it('names a record whose line was altered in the database (triggers disabled, as an attacker with database rights would)', async () => {
    const { db, database } = await ledger(1_500);
    await database.query('ALTER TABLE ledger_records DISABLE TRIGGER ledger_records_append_only');
    await database.query(
      'UPDATE ledger_records SET line = replace(line, \'"ci-build-1234"\', \'"ci-build-9999"\') WHERE seq = 1234',
    );
    const run = await verify(db.url, ['--json']);
    expect(run.status).toBe(1);
    expect(JSON.parse(run.output)).toMatchObject({
      ok: false,
      records: 1_233,
      problem: {
        kind: 'altered',
        seq: 1234,
        message: 'record seq 1234 was altered: its hash does not match its content',
      },
    });
  }, 60_000);

  it('a record rewritten with its hash recomputed breaks the chain at the next one; a record deleted in the middle is missing', async () => {
    const { db, database } = await ledger(600);
    await database.query('ALTER TABLE ledger_records DISABLE TRIGGER ALL');
    const { rows } = await database.query<{ line: string }>(
      'SELECT line FROM ledger_records WHERE seq = 300',
    );
    const { createHash } = await import('node:crypto');
    const body = rows[0].line.replace('"ci-build-300"', '"ci-build-xxx"');
    const at = body.length - 75;
    const hash = createHash('sha256')
      .update(`${body.slice(0, at)}}`)
      .digest('hex');
    await database.query('UPDATE ledger_records SET line = $1, hash = $2 WHERE seq = 300', [
      `${body.slice(0, at + 9)}${hash}"}`,
      hash,
    ]);
    const rewritten = await verify(db.url, []);
    expect(rewritten.status).toBe(1);
    expect(rewritten.output).toContain(
      'problem:  altered at seq 301: record seq 301 does not chain to seq 300: a record was replaced',
    );

    const other = await ledger(600);
    await other.database.query('ALTER TABLE ledger_records DISABLE TRIGGER ALL');
    await other.database.query(
      'DELETE FROM credentials WHERE issued_seq = 451 OR updated_seq = 451',
    );
    await other.database.query('DELETE FROM ledger_records WHERE seq = 450');
    const gap = await verify(other.db.url, []);
    expect(gap.status).toBe(1);
    expect(gap.output).toContain(
      'problem:  missing at seq 451: records seq 450 to 450 are missing',
    );
    // A page that comes back empty (pages of one record here) is named by the next record there is.
    expect(await verifyLedgerStream(other.database, { key: KEY, pageSize: 1 })).toMatchObject({
      ok: false,
      records: 449,
      problem: { kind: 'missing', seq: 451 },
    });
  }, 60_000);

  it('rollback: the last record removed and the head moved back to its earlier (genuine) row passes alone, and is caught by --checkpoint', async () => {
    const { db, database } = await ledger(101);
    const saved = (await database.query('SELECT seq, hash, mac FROM ledger_head')).rows[0];
    const last = await fillLedger(database, 1, KEY); // seq 102: an attempt (no inventory row)
    expect(last.seq).toBe(102);
    const checkpoint = makeCheckpoint(KEY, last).checkpoint;
    const older = makeCheckpoint(KEY, { seq: 50, hash: await hashAt(database, 50) }).checkpoint;
    expect((await verify(db.url, ['--checkpoint', checkpoint])).status).toBe(0);

    // The attacker keeps the old head row and puts it back after removing what came later.
    await database.query('ALTER TABLE ledger_records DISABLE TRIGGER ALL');
    await database.query('ALTER TABLE ledger_head DISABLE TRIGGER ALL');
    await database.query('UPDATE ledger_head SET seq = $1, hash = $2, mac = $3', [
      saved.seq,
      saved.hash,
      saved.mac,
    ]);
    await database.query('DELETE FROM ledger_records WHERE seq = 102');

    const alone = await verify(db.url, []);
    expect(alone.status).toBe(0); // nothing in the database can show it
    expect((await verify(db.url, ['--checkpoint', older])).status).toBe(0);
    const caught = await verify(db.url, ['--checkpoint', checkpoint, '--json']);
    expect(caught.status).toBe(1);
    expect(JSON.parse(caught.output)).toMatchObject({
      ok: false,
      problem: {
        kind: 'rollback',
        seq: 102,
        message:
          "the ledger does not contain the checkpoint's seq 102 (it ends at seq 101): it was rolled back or cut",
      },
    });
    // The whole "audit checkpoint" log line is taken too; a forged checkpoint MAC is named.
    const line = JSON.stringify({ msg: 'audit checkpoint', checkpoint });
    expect((await verify(db.url, ['--checkpoint', line])).output).toContain('problem:  rollback');
    const forged = `${checkpoint.slice(0, -64)}${'0'.repeat(64)}`;
    expect((await verify(db.url, ['--checkpoint', forged])).output).toContain(
      'problem:  checkpoint at seq 102: the checkpoint given was not signed with this audit key',
    );
  }, 60_000);

  it('a head whose MAC is wrong (or checked with another key) fails', async () => {
    const { db, database } = await ledger(30);
    expect(
      (await verify(db.url, [], 'another-audit-hmac-key-long-enough-987654')).output,
    ).toContain('the ledger head was altered (its MAC does not match the audit key)');
    await database.query("UPDATE ledger_head SET mac = repeat('0', 64)");
    const run = await verify(db.url, ['--json']);
    expect(run.status).toBe(1);
    expect(JSON.parse(run.output)).toMatchObject({
      ok: false,
      head: 'mismatch',
      problem: { kind: 'altered', seq: 30 },
    });
  }, 60_000);

  it('a record appended beyond the MAC’d head (chained, but the head not moved: no key) is named', async () => {
    const { db, database, head } = await ledger(50);
    const time = new Date().toISOString();
    const entry: AuditEntry = {
      request_id: 'forged',
      event: 'audit.read',
      phase: 'succeeded',
      actor: { subject: 'mallory', team: 'keygate' },
      target: {},
    };
    const { line, hash } = chainLine(51, head?.hash as string, time, entry);
    await database.query(
      `INSERT INTO ledger_records (seq, prev_hash, hash, time, request_id, event, phase, actor, target, line)
       VALUES (51, $1, $2, $3, 'forged', 'audit.read', 'succeeded', $4, '{}', $5)`,
      [head?.hash, hash, time, JSON.stringify(entry.actor), line.trimEnd()],
    );
    const run = await verify(db.url, []);
    expect(run.status).toBe(1);
    expect(run.output).toContain(
      "problem:  altered at seq 51: record seq 51 lies beyond the MAC'd head (seq 50): Keygate did not append it",
    );
    expect((await verify(db.url, ['--no-head'])).status).toBe(0);
  }, 60_000);

  it('--anchor verifies the records after it; one that does not chain to the anchor is named', async () => {
    const { db, database } = await ledger(200);
    const h50 = await hashAt(database, 50);
    const part = await verify(db.url, ['--anchor', `50:${h50}`, '--json']);
    expect(part.status).toBe(0);
    expect(JSON.parse(part.output)).toMatchObject({ ok: true, records: 150, first: { seq: 51 } });
    const wrong = await verify(db.url, ['--anchor', `50:${'a'.repeat(64)}`]);
    expect(wrong.status).toBe(1);
    expect(wrong.output).toContain('record seq 51 does not chain to the anchor');
    expect((await verify(db.url, ['--anchor', 'nonsense'])).status).toBe(2);
  }, 60_000);

  it('verify --db, export and import exit 1 naming DATABASE_URL, without its password, when the database cannot be reached', async () => {
    const port = await freePort();
    const env = {
      DATABASE_URL: `postgres://keygate:N0t-For-Logs-42@127.0.0.1:${port}/keygate`,
      AUDIT_HMAC_KEY: KEY,
    };
    const dir = mkdtempSync(join(tmpdir(), 'keygate-unreachable-'));
    try {
      for (const run of [
        await verify(env.DATABASE_URL, []),
        await auditExportCommand([join(dir, 'out')], env),
        await auditImportCommand([dir], env),
      ]) {
        expect(run.status).toBe(1);
        expect(run.output).toContain(
          `DATABASE_URL postgres://keygate:***@127.0.0.1:${port}/keygate: the database cannot be reached`,
        );
        expect(run.output).not.toContain('N0t-For-Logs-42');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('exits 1 naming DATABASE_URL when it is not set', async () => {
    const run = await auditVerifyDbCommand(['--db'], {});
    expect(run).toEqual({
      output: 'DATABASE_URL is not set (postgres://user:password@host:5432/database)',
      status: 1,
    });
  });
});
