import { headMac } from '@app/audit';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { auditAcceptLossCommand } from '../../apps/cli/src/audit-accept-loss.command';
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
      /no longer holds record seq \d+, which the latest checkpoint witnessed/,
    ],
    [
      'the head rolled back with the records after it (an old head whose MAC is valid)',
      (_db, early) =>
        `${REPLICA} DELETE FROM ledger_records WHERE seq > ${early.seq};
         UPDATE ledger_head SET seq = ${early.seq}, hash = '${early.hash}',
           mac = '${headMac(TEST_AUDIT_KEY, early.seq, early.hash)}'`,
      /no longer holds record seq \d+, which the latest checkpoint witnessed/,
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

    // An operator accepts the loss; the running gateway picks it up (no restart).
    const env = { DATABASE_URL: db.url, AUDIT_HMAC_KEY: TEST_AUDIT_KEY };
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
