import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { AuditEntry, AuditRecord, chainLine, GENESIS_HASH, headMac } from '@app/audit';
import { appendChainedBatch, Database } from '@app/ledger';
import { LEDGER_END_SQL } from '../../libs/ledger/src/ledger-end';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { auditAcceptLossCommand } from '../../apps/cli/src/audit-accept-loss.command';
import { auditExportCommand } from '../../apps/cli/src/audit-export.command';
import { runAuditVerify } from '../../apps/cli/src/audit-verify.command';
import { asDatabase, createTestDatabase, ledgerRecords, TestDatabase } from '../support/db';
import {
  startGateway,
  startSimulator,
  StartedGateway,
  StartedSimulator,
  TEST_AUDIT_KEY,
} from '../support/gateway';

/**
 * The ledger's start-up check: its end must match its MAC'd head and contain the latest stored
 * checkpoint. Each attack is made by a superuser on the database while the gateway is stopped.
 */
describe('ledger start-up check: a tampered end keeps changes refused until the loss is accepted', () => {
  jest.setTimeout(30_000);
  let s: StartedSimulator;
  const open: { g?: StartedGateway; db?: TestDatabase }[] = [];
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(async () => {
    for (const o of open) await o.g?.close();
    for (const o of open) await o.db?.drop();
    await s?.sim.close();
  });

  const tokens = () => `/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/tokens`;
  const issue = async (g: StartedGateway, status: number) =>
    g
      .http()
      .post(tokens())
      .set({ Authorization: `Bearer ${await g.token()}` })
      .send({ label: 'startup', role_id: CI_ROLE_ID, valid_for_seconds: 600 })
      .expect(status);
  const created = async () => (await s.admin.state()).requests['qwiet.tokens.create'] ?? 0;
  const head = async (url: string) => {
    const records = await ledgerRecords(url);
    const last = records[records.length - 1];
    return { seq: last.seq, hash: last.hash };
  };

  /** A ledger of two issuances (then the gateway stopped: its checkpoint stored at shutdown). */
  async function ledgerWithHistory(): Promise<{
    db: TestDatabase;
    early: { seq: number; hash: string };
  }> {
    const db = await createTestDatabase();
    open.push({ db });
    const g = await startGateway(s, { DATABASE_URL: db.url });
    let early: { seq: number; hash: string };
    try {
      await issue(g, 200);
      early = await head(db.url);
      await issue(g, 200);
    } finally {
      await g.close();
    }
    return { db, early };
  }

  // Superuser attacks, each with the gateway stopped.
  const REPLICA = 'SET session_replication_role = replica;';
  const attacks: [
    string,
    (db: TestDatabase, early: { seq: number; hash: string }) => string,
    RegExp,
  ][] = [
    [
      'records cut from the end with the triggers disabled',
      () => `${REPLICA} DELETE FROM ledger_records WHERE seq > (SELECT seq - 2 FROM ledger_head)`,
      /records seq \d+ to \d+ were cut from the end/,
    ],
    [
      'the whole ledger emptied by TRUNCATE ... CASCADE (the head with it)',
      () => `${REPLICA} TRUNCATE ledger_records CASCADE`,
      /no longer holds record seq \d+ \(hash [0-9a-f]{12}…\), which the latest checkpoint witnessed/,
    ],
    [
      'the head rolled back with the records after it (an old head whose MAC is valid)',
      (_db, early) =>
        `${REPLICA} DELETE FROM ledger_records WHERE seq > ${early.seq};
         UPDATE ledger_head SET seq = ${early.seq}, hash = '${early.hash}',
           mac = '${headMac(TEST_AUDIT_KEY, early.seq, early.hash)}'`,
      /no longer holds record seq \d+ \(hash [0-9a-f]{12}…\), which the latest checkpoint witnessed/,
    ],
    [
      'the head row deleted',
      () => `${REPLICA} DELETE FROM ledger_head`,
      /no head: the head row was deleted/,
    ],
    [
      'the head’s MAC wrong',
      () => `UPDATE ledger_head SET mac = '${'0'.repeat(64)}'`,
      /does not carry this deployment's MAC/,
    ],
    [
      'the last record’s line altered (it does not chain)',
      () =>
        `${REPLICA} UPDATE ledger_records SET line = replace(line, '"startup"', '"startuq"')
           WHERE seq = (SELECT seq FROM ledger_head)`,
      /record seq \d+ was altered/,
    ],
  ];

  it.each(attacks)('%s', async (_name, attack, problem) => {
    const { db, early } = await ledgerWithHistory();
    const before = await head(db.url);
    await asDatabase(db.url, attack(db, early));

    const g = await startGateway(s, { DATABASE_URL: db.url });
    open.push({ g });
    // Changes are refused, nothing is sent to the vendor.
    const sent = await created();
    expect((await issue(g, 503)).body.code).toBe('AUDIT_UNAVAILABLE');
    expect(await created()).toBe(sent);
    // Ready is red naming the gap by seq numbers (admin details), never a key or a MAC.
    const admin = { Authorization: `Bearer ${await g.token({ roles: ['keygate:admin'] })}` };
    const ready = await g.http().get('/health/ready').set(admin).expect(503);
    expect(ready.body.details.audit.status).toBe('down');
    expect(ready.body.details.audit.message).toMatch(problem);
    expect(ready.body.details.audit.gap.end).toEqual({
      seq: expect.any(Number),
      hash: expect.any(String),
    });
    const text = JSON.stringify(ready.body);
    expect(text).not.toContain(TEST_AUDIT_KEY);
    expect(text).not.toContain(headMac(TEST_AUDIT_KEY, before.seq, before.hash));
    // Reads of the vendors go on.
    await g
      .http()
      .get(tokens())
      .set({ Authorization: `Bearer ${await g.token()}` })
      .expect(200);

    // No export either: it would go unrecorded.
    const env = { DATABASE_URL: db.url, AUDIT_HMAC_KEY: TEST_AUDIT_KEY };
    const exported = await auditExportCommand([mkdtempSync(join(tmpdir(), 'keygate-gap-'))], env);
    expect(exported.status).toBe(1);
    expect(exported.output).toMatch(problem);

    // An operator accepts the loss; the running gateway picks it up (no restart).
    const accepted = await auditAcceptLossCommand(
      ['--db', '--by', 'carol', '--reason', 'restored from backup'],
      env,
    );
    expect(accepted.status).toBe(0);
    expect(accepted.output).not.toContain(TEST_AUDIT_KEY);
    const records = await ledgerRecords(db.url);
    const loss = records.find((r) => r.event === 'audit.loss_accepted');
    expect(loss).toMatchObject({
      actor: { subject: 'carol' },
      loss: { problem: expect.stringMatching(problem), reason: 'restored from backup' },
    });
    expect(loss!.loss!.end.seq).toBe(loss!.seq - 1);
    // Nothing more to accept.
    expect(
      (await auditAcceptLossCommand(['--db', '--by', 'c', '--reason', 'again'], env)).status,
    ).toBe(1);

    await g.http().get('/health/ready').set(admin).expect(200);
    await issue(g, 200);
    expect(await created()).toBe(sent + 1);
  });

  it('a sound ledger starts and writes on, and still verifies', async () => {
    const { db } = await ledgerWithHistory();
    const g = await startGateway(s, { DATABASE_URL: db.url });
    open.push({ g });
    await issue(g, 200);
    const admin = { Authorization: `Bearer ${await g.token({ roles: ['keygate:admin'] })}` };
    await g.http().get('/health/ready').set(admin).expect(200);
    await g.close();
    const verified = await runAuditVerify(['--db'], {
      DATABASE_URL: db.url,
      AUDIT_HMAC_KEY: TEST_AUDIT_KEY,
    });
    expect(verified.status).toBe(0);
  });
});

/**
 * `count` auditors' reads (about 500 bytes each, every 50th with a JSON escape and a character
 * beyond ASCII) appended in batches through the sink's own statement: nothing for crash recovery
 * to look at (no attempt), nothing for the inventory.
 */
async function fillWithReads(database: Database, count: number): Promise<void> {
  const client = await database.pool.connect();
  try {
    let head: { seq: number; hash: string } | undefined;
    let prev = GENESIS_HASH;
    let seq = 0;
    const base = Date.parse('2025-01-01T00:00:00Z');
    while (seq < count) {
      const records: AuditRecord[] = [];
      const lines: string[] = [];
      for (let i = 0; i < 5_000 && seq < count; i++) {
        seq++;
        const entry: AuditEntry = {
          request_id: `read-${seq}-0f5c2a9e-7d41-4b8a-9c3e-5a1d7e2b4c60`,
          event: 'audit.read',
          phase: 'succeeded',
          actor: {
            subject: `auditor-${seq % 97}`,
            team: 'security',
            ip: '10.1.2.3',
            user_agent: seq % 50 === 7 ? 'runner "v2.3" \\ für CI' : 'curl/8.5.0',
          },
          target: {},
          read: {
            kind: 'query',
            filters: { team: 'payments', event: 'qwiet.token.issue', limit: 100 },
            records: 100,
          },
        };
        const time = new Date(base + seq * 1000).toISOString();
        const { line, hash } = chainLine(seq, prev, time, entry);
        records.push({ seq, prev_hash: prev, time, ...entry, hash });
        lines.push(line.slice(0, -1));
        prev = hash;
      }
      if (!(await appendChainedBatch(client, TEST_AUDIT_KEY, head, records, lines)))
        throw new Error('the ledger head moved while it was being filled');
      head = { seq, hash: prev };
    }
  } finally {
    client.release();
  }
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

describe('GET /v1/audit/verify runs off the event loop', () => {
  jest.setTimeout(240_000);
  const RECORDS = 200_000;
  let s: StartedSimulator;
  let db: TestDatabase;
  let g: StartedGateway;
  beforeAll(async () => {
    s = await startSimulator();
    db = await createTestDatabase();
    const database = await Database.connect({ url: db.url });
    try {
      await fillWithReads(database, RECORDS);
    } finally {
      await database.close();
    }
    // The start-up reads the end of the ledger only, whatever its size.
    g = await startGateway(s, { DATABASE_URL: db.url });
  });
  afterAll(async () => {
    await g?.close();
    await s?.sim.close();
    await db?.drop();
  });

  it('the start-up check reads no history: on 200,000 records its statement touches a few rows, by index only', async () => {
    const database = await Database.connect({ url: db.url });
    try {
      const { rows } = await database.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${LEDGER_END_SQL}`,
      );
      const scans: PlanNode[] = [];
      const walk = (node: PlanNode) => {
        if (node['Relation Name'] === 'ledger_records') scans.push(node);
        node.Plans?.forEach(walk);
      };
      walk(rows[0]['QUERY PLAN'][0].Plan);
      expect(scans.length).toBeGreaterThan(0);
      for (const scan of scans) {
        expect(scan['Node Type']).toMatch(/^Index (Only )?Scan$/);
        expect(scan['Actual Rows'] * scan['Actual Loops']).toBeLessThanOrEqual(2);
      }
    } finally {
      await database.close();
    }
  });

  it(`liveness is answered again and again while a verify of ${RECORDS.toLocaleString('en')} records runs`, async () => {
    const auditor = {
      Authorization: `Bearer ${await g.token({ team: 'security', sub: 'eve', roles: ['keygate:auditor'] })}`,
    };
    // This process runs the gateway: how busy its event loop is while the verify runs.
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const elu = performance.eventLoopUtilization();
    delay.enable();
    let finished = false;
    const verify = g
      .http()
      .get('/v1/audit/verify')
      .set(auditor)
      .then((res) => {
        finished = true;
        return res;
      });
    let answered = 0;
    for (let i = 0; i < 10_000 && !finished; i++) {
      await g.http().get('/health/live').expect(200);
      if (!finished) answered++;
    }
    const res = await verify;
    delay.disable();
    const used = performance.eventLoopUtilization(elu);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, head: 'matches' });
    expect(res.body.records).toBeGreaterThanOrEqual(RECORDS);
    process.stdout.write(
      `verify of ${res.body.records} records: liveness answered ${answered} times meanwhile; event loop: utilization ${used.utilization.toFixed(2)}, delay max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms\n`,
    );
    expect(answered).toBeGreaterThanOrEqual(10);
  });
});
