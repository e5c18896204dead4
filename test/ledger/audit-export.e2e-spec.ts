import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '@app/ledger';
import { auditExportCommand } from '../../apps/cli/src/audit-export.command';
import { auditVerifyCommand } from '../../apps/cli/src/audit-verify.command';
import { createTestDatabase, TestDatabase } from '../support/db';
import { runToExit, tsNodeArgs } from '../support/processes';
import { fillLedger } from './ledger-fill';

const KEY = 'test-audit-hmac-key-long-enough-0123456789';

describe('keygate audit export DIR (a real PostgreSQL)', () => {
  const open: { close(): Promise<void> }[] = [];
  const dbs: TestDatabase[] = [];
  const dirs: string[] = [];
  const ledger = async (records: number) => {
    const db = await createTestDatabase();
    dbs.push(db);
    const database = await Database.connect({ url: db.url, applicationName: 'export-test' });
    open.push(database);
    if (records > 0) await fillLedger(database, records, KEY, 500);
    return { db, database };
  };
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-export-'));
    dirs.push(dir);
    return dir;
  };
  const count = async (database: Database) =>
    Number((await database.query('SELECT count(*) AS n FROM ledger_records')).rows[0].n);

  afterAll(async () => {
    for (const o of open) await o.close();
    for (const db of dbs) await db.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('writes the exact lines as rotated segments and a head that the offline verifier checks OK; the export is recorded in the ledger first, and exported with it', async () => {
    const { db, database } = await ledger(1_200);
    const dir = join(tempDir(), 'export'); // created by the command
    const run = await auditExportCommand([dir, '--by', 'auditor-ann'], {
      DATABASE_URL: db.url,
      AUDIT_HMAC_KEY: KEY,
      AUDIT_SEGMENT_BYTES: '200000',
    });
    expect(run.status).toBe(0);
    expect(run.output).toContain('records:  1201 (seq 1 to 1201)');
    expect(run.output).toContain('recorded: seq 1201 (audit.read, export, by auditor-ann)');
    expect(run.output).not.toContain(decodeURIComponent(new URL(db.url).password));

    // The record of the read, in the ledger.
    const { rows } = await database.query(
      'SELECT event, phase, actor, line FROM ledger_records WHERE seq = 1201',
    );
    expect(rows[0]).toMatchObject({
      event: 'audit.read',
      phase: 'succeeded',
      actor: { subject: 'auditor-ann', team: 'keygate' },
    });
    expect(JSON.parse(rows[0].line as string).read).toEqual({ kind: 'export', filters: { dir } });

    // Segments as the file sink rotates them: each one full (at least the size, less one line over).
    const segments = readdirSync(dir)
      .filter((name) => name.endsWith('.jsonl'))
      .sort();
    expect(segments.length).toBeGreaterThanOrEqual(4);
    expect(segments).toEqual(
      segments.map((_, i) => `keygate-audit-${String(i + 1).padStart(6, '0')}.jsonl`),
    );
    for (const name of segments.slice(0, -1)) {
      const size = statSync(join(dir, name)).size;
      expect(size).toBeGreaterThanOrEqual(200_000);
      expect(size).toBeLessThan(200_000 + 2_000);
    }
    // Byte for byte the ledger's lines, each with its newline.
    const lines = (
      await database.query<{ line: string }>('SELECT line FROM ledger_records ORDER BY seq')
    ).rows.map((r) => `${r.line}\n`);
    const written = segments.map((name) => readFileSync(join(dir, name), 'utf8')).join('');
    expect(written).toBe(lines.join(''));

    const offline = auditVerifyCommand([dir, '--json'], { AUDIT_HMAC_KEY: KEY });
    expect(offline.status).toBe(0);
    expect(JSON.parse(offline.output)).toMatchObject({
      ok: true,
      records: 1_201,
      segments: segments.length,
      head: 'matches',
    });
  }, 60_000);

  it('refuses a directory that already holds a log, a missing key, and a ledger whose head is not this deployment’s: nothing exported, nothing recorded', async () => {
    const { db, database } = await ledger(20);
    const env = { DATABASE_URL: db.url, AUDIT_HMAC_KEY: KEY };
    const taken = tempDir();
    writeFileSync(join(taken, 'keygate-audit-000001.jsonl'), '');
    // Through the CLI's entry point, as an operator runs it.
    const refused = await runToExit(
      [...tsNodeArgs('apps/cli/src/main.ts'), 'audit', 'export', taken],
      env,
      '\u0000never',
    );
    expect(refused.code).toBe(1);
    expect(refused.output.trim()).toBe(
      `${taken} already holds an audit log: export into an empty directory`,
    );
    const noKey = await auditExportCommand([tempDir()], { DATABASE_URL: db.url });
    expect(noKey.status).toBe(1);
    expect(noKey.output).toContain('AUDIT_HMAC_KEY is not set');
    expect(await count(database)).toBe(20);

    const other = tempDir();
    const wrongKey = await auditExportCommand([other], {
      ...env,
      AUDIT_HMAC_KEY: 'another-audit-hmac-key-long-enough-987654',
    });
    expect(wrongKey.status).toBe(1);
    expect(wrongKey.output).toContain('the export cannot be recorded in the ledger');
    expect(readdirSync(other)).toEqual([]);
    expect(await count(database)).toBe(20);
  }, 60_000);
});
