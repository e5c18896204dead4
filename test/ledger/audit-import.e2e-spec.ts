import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditEntry, AuditFileSink, HEAD_FILE, legacyHeadMac } from '@app/audit';
import { Database, PgLedgerSink } from '@app/ledger';
import { auditImportCommand } from '../../apps/cli/src/audit-import.command';
import { auditVerifyDbCommand } from '../../apps/cli/src/audit-verify.command';
import { createTestDatabase, TestDatabase } from '../support/db';
import { runToExit, tsNodeArgs } from '../support/processes';
import { fillLedger } from './ledger-fill';

const KEY = 'test-audit-hmac-key-long-enough-0123456789';
const ORG = '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42';
const ROLE = '66ad5168-41be-4b6c-9ac5-a30b02229c35';
const decision = { allowed: true, violations: [], warnings: [], policy_revision: 'sha256:abc' };
const alice = { subject: 'alice', team: 'payments', ip: '10.0.0.7', user_agent: 'ci "runner" 1.0' };
const bob = { subject: 'bob', team: 'payments' };

/** Attempt and outcome of one change, as the gateway's pipeline records them. */
function change(
  event: AuditEntry['event'],
  outcome: AuditEntry['phase'],
  actor: AuditEntry['actor'],
  target: AuditEntry['target'],
  extra: Partial<AuditEntry> = {},
): AuditEntry[] {
  const request_id = randomUUID();
  return [
    { request_id, event, phase: 'attempt', actor, target, decision },
    {
      request_id,
      event,
      phase: outcome,
      actor,
      target,
      decision,
      vendor: { status: 200, latency_ms: 9 },
      ...extra,
    },
  ];
}

const T1 = randomUUID();
const T2 = randomUUID();
const T3 = randomUUID();
const qwiet = (credential_id: string, label: string) => ({
  vendor: 'qwiet' as const,
  org_id: ORG,
  credential_id,
  label,
  role_ids: [ROLE],
  token_type: 'access',
  lifetime_requested: 3600,
  lifetime_effective: 3600,
  expires_at: '2030-01-01T00:00:00.000Z',
});
const octane = {
  vendor: 'octane' as const,
  shared_space_id: '1001',
  credential_id: '2001',
  client_id: 'ci-key_abc123',
  name: 'ci-key',
  role_ids: ['3001'],
};

/** The history of a deployment on today's file log: issues, revocations, a regeneration, a compensation. */
const history = (): AuditEntry[][] => [
  [
    {
      request_id: randomUUID(),
      event: 'policy.loaded',
      phase: 'succeeded',
      actor: { subject: 'keygate', team: 'keygate' },
      target: {},
      policy: { file: 'policy.yaml', revision: 'sha256:abc' },
    },
  ],
  change('qwiet.token.issue', 'succeeded', alice, qwiet(T1, 'ci-1'), {
    fingerprint: 'hmac-sha256:f1',
  }),
  change('qwiet.token.issue', 'succeeded', alice, qwiet(T2, 'ci-2'), {
    fingerprint: 'hmac-sha256:f2',
  }),
  change('qwiet.token.revoke', 'succeeded', bob, {
    vendor: 'qwiet',
    org_id: ORG,
    credential_id: T1,
  }),
  change('octane.api_access.create', 'succeeded', alice, octane, { fingerprint: 'hmac-sha256:o1' }),
  change('octane.api_access.regenerate', 'succeeded', bob, octane, {
    fingerprint: 'hmac-sha256:o2',
  }),
  change('qwiet.token.issue', 'compensated', alice, qwiet(T3, 'ci-3'), {
    note: 'the outcome could not be recorded: revoked at the vendor',
  }),
  [
    {
      request_id: randomUUID(),
      event: 'qwiet.token.issue',
      phase: 'denied',
      actor: bob,
      target: qwiet('', 'nope'),
      decision: { ...decision, allowed: false, violations: ['qwiet.max_lifetime'] },
    },
  ],
];

describe('keygate audit import DIR (a real PostgreSQL)', () => {
  const open: { close(): Promise<void> }[] = [];
  const dbs: TestDatabase[] = [];
  const dirs: string[] = [];
  const ledger = async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const database = await Database.connect({ url: db.url, applicationName: 'import-test' });
    open.push(database);
    return { db, database, env: { DATABASE_URL: db.url, AUDIT_HMAC_KEY: KEY } };
  };
  /** A file log written by AuditFileSink (today's sink), small segments so it spans several. */
  const fileLog = async (batches: AuditEntry[][], dir = mkdtempSync(join(tmpdir(), 'kg-log-'))) => {
    if (!dirs.includes(dir)) dirs.push(dir);
    const sink = await AuditFileSink.open({ dir, segmentBytes: 1_500, hmacKey: KEY, fsync: false });
    for (const entries of batches) await sink.append(entries);
    await sink.close();
    return dir;
  };
  const fileLines = (dir: string) =>
    readdirSync(dir)
      .filter((name) => name.endsWith('.jsonl'))
      .sort()
      .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean));
  const counts = async (database: Database) =>
    (
      await database.query<{ records: number; heads: number }>(
        'SELECT (SELECT count(*) FROM ledger_records)::int AS records, (SELECT count(*) FROM ledger_head)::int AS heads',
      )
    ).rows[0];

  afterAll(async () => {
    for (const o of open) await o.close();
    for (const db of dbs) await db.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('imports a file log with its exact lines and chain, rebuilds the inventory, verifies with --db, and a PgLedgerSink goes on from it', async () => {
    const dir = await fileLog(history());
    const lines = fileLines(dir);
    expect(readdirSync(dir).filter((n) => n.endsWith('.jsonl')).length).toBeGreaterThan(2);
    const { database, env } = await ledger();

    const run = await auditImportCommand([dir], env);
    expect(run.status).toBe(0);
    expect(run.output).toContain(
      `imported ${lines.length} records (seq 1 to ${lines.length}) into an empty ledger`,
    );
    expect(run.output).toContain('log head:  matches');
    expect(run.output).toContain('inventory: 4 credential(s)');

    const rows = (
      await database.query(
        'SELECT seq, prev_hash, hash, time, event, phase, actor, line FROM ledger_records ORDER BY seq',
      )
    ).rows;
    expect(rows.map((r) => r.line)).toEqual(lines);
    for (const [i, r] of rows.entries()) {
      const parsed = JSON.parse(lines[i]);
      expect(Number(r.seq)).toBe(parsed.seq);
      expect(r.prev_hash).toBe(parsed.prev_hash);
      expect(r.hash).toBe(parsed.hash);
      expect((r.time as Date).toISOString()).toBe(parsed.time);
      expect(r.actor).toEqual(parsed.actor);
    }

    const inventory = (
      await database.query(
        'SELECT vendor, scope, credential_id, client_id, name, owner_team, subject, status, revoked_by, fingerprint FROM credentials ORDER BY issued_seq',
      )
    ).rows;
    expect(inventory).toEqual([
      {
        vendor: 'qwiet',
        scope: ORG,
        credential_id: T1,
        client_id: null,
        name: 'ci-1',
        owner_team: 'payments',
        subject: 'alice',
        status: 'revoked',
        revoked_by: 'bob',
        fingerprint: 'hmac-sha256:f1',
      },
      {
        vendor: 'qwiet',
        scope: ORG,
        credential_id: T2,
        client_id: null,
        name: 'ci-2',
        owner_team: 'payments',
        subject: 'alice',
        status: 'active',
        revoked_by: null,
        fingerprint: 'hmac-sha256:f2',
      },
      {
        vendor: 'octane',
        scope: '1001',
        credential_id: '2001',
        client_id: 'ci-key_abc123',
        name: 'ci-key',
        owner_team: 'payments',
        subject: 'alice',
        status: 'active',
        revoked_by: null,
        fingerprint: 'hmac-sha256:o2',
      },
      {
        vendor: 'qwiet',
        scope: ORG,
        credential_id: T3,
        client_id: null,
        name: 'ci-3',
        owner_team: 'payments',
        subject: 'alice',
        status: 'compensated',
        revoked_by: null,
        fingerprint: null,
      },
    ]);

    const verified = await auditVerifyDbCommand(['--db', '--json'], env);
    expect(verified.status).toBe(0);
    expect(JSON.parse(verified.output)).toMatchObject({
      ok: true,
      records: lines.length,
      head: 'matches',
    });

    // The gateway's sink continues the chain where the file log ended.
    const sink = await PgLedgerSink.open({ database, hmacKey: KEY });
    const [next] = await sink.append(
      change('qwiet.token.revoke', 'succeeded', alice, {
        vendor: 'qwiet',
        org_id: ORG,
        credential_id: T2,
      }),
    );
    await sink.close();
    expect(next).toMatchObject({
      seq: lines.length + 1,
      prev_hash: JSON.parse(lines.at(-1) as string).hash,
    });
    const after = await auditVerifyDbCommand(['--db', '--json'], env);
    expect(JSON.parse(after.output)).toMatchObject({ ok: true, records: lines.length + 2 });
  }, 60_000);

  it('refuses a broken log naming its first bad record, and imports nothing', async () => {
    const dir = await fileLog(history());
    const segments = readdirSync(dir)
      .filter((n) => n.endsWith('.jsonl'))
      .sort();
    const second = join(dir, segments[1]);
    const text = readFileSync(second, 'utf8');
    writeFileSync(second, text.replace('"team":"payments"', '"team":"platform"'));
    const { database, env } = await ledger();
    const run = await auditImportCommand([dir], env);
    expect(run.status).toBe(1);
    expect(run.output).toMatch(
      new RegExp(
        `does not verify, nothing imported: altered at ${segments[1]} line \\d+ \\(seq \\d+\\): record seq \\d+ was altered`,
      ),
    );
    expect(await counts(database)).toEqual({ records: 0, heads: 0 });

    // A log cut at the end (head beyond the records) is refused too.
    const cut = await fileLog(history());
    const last = join(
      cut,
      readdirSync(cut)
        .filter((n) => n.endsWith('.jsonl'))
        .sort()
        .at(-1) as string,
    );
    const kept = readFileSync(last, 'utf8').split('\n').filter(Boolean).slice(0, -1);
    writeFileSync(last, kept.map((line) => `${line}\n`).join(''));
    const truncated = await auditImportCommand([cut], env);
    expect(truncated.status).toBe(1);
    expect(truncated.output).toContain('truncated');
    expect(await counts(database)).toEqual({ records: 0, heads: 0 });
  }, 60_000);

  it('accepts a log whose head an earlier release MAC’d with the raw key', async () => {
    const dir = await fileLog(history());
    const head = JSON.parse(readFileSync(join(dir, HEAD_FILE), 'utf8'));
    head.mac = legacyHeadMac(KEY, head.seq, head.hash);
    writeFileSync(join(dir, HEAD_FILE), `${JSON.stringify(head)}\n`);
    const { env } = await ledger();
    // Through the CLI's entry point, as an operator runs it.
    const run = await runToExit(
      [...tsNodeArgs('apps/cli/src/main.ts'), 'audit', 'import', dir],
      env,
      '\u0000never',
    );
    expect(run.code).toBe(0);
    expect(run.output).toContain('log head:  legacy head');
    expect(run.output).not.toContain(decodeURIComponent(new URL(env.DATABASE_URL).password));
    expect((await auditVerifyDbCommand(['--db'], env)).status).toBe(0);
  }, 60_000);

  it('a ledger that is not empty: refused, unless the file log continues exactly its head (then only the rest goes in)', async () => {
    const { database, env } = await ledger();
    await fillLedger(database, 5, KEY);
    const dir = await fileLog(history());
    const refused = await auditImportCommand([dir], env);
    expect(refused.status).toBe(1);
    expect(refused.output).toContain(
      'the ledger is not empty and the file log does not continue its head',
    );
    expect(await counts(database)).toEqual({ records: 5, heads: 1 });

    const fresh = await ledger();
    expect((await auditImportCommand([dir], fresh.env)).status).toBe(0);
    const before = fileLines(dir).length;
    // The file log went on (the file gateway ran on after the first import): only its new records go in.
    await fileLog(
      [
        change('qwiet.token.revoke', 'succeeded', bob, {
          vendor: 'qwiet',
          org_id: ORG,
          credential_id: T2,
        }),
      ],
      dir,
    );
    const again = await auditImportCommand([dir], fresh.env);
    expect(again.status).toBe(0);
    expect(again.output).toContain(
      `imported 2 records (seq ${before + 1} to ${before + 2}), continuing the ledger's head at seq ${before}`,
    );
    expect((await auditImportCommand([dir], fresh.env)).output).toContain('nothing to import');
    const status = await fresh.database.query(
      'SELECT status FROM credentials WHERE credential_id = $1',
      [T2],
    );
    expect(status.rows[0].status).toBe('revoked');
    expect((await auditVerifyDbCommand(['--db'], fresh.env)).status).toBe(0);

    // Once the ledger has moved on past the log, the log no longer continues it.
    await fillLedger(fresh.database, 1, KEY);
    const past = await auditImportCommand([dir], fresh.env);
    expect(past.status).toBe(1);
    expect(past.output).toContain('the file log ends before it');
  }, 60_000);
});
