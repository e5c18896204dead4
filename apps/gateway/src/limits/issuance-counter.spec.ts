import type { AuditEntry } from '@app/audit';
import type { Caller } from '@app/auth';
import { Database, PgLedgerSink } from '@app/ledger';
import { createTestDatabase, TestDatabase } from '../../../../test/support/db';
import { IssuanceCounter } from './issuance-counter';

const HOUR = 3600_000;
const alice: Caller = { subject: 'alice', team: 'payments', roles: [] };
const bob: Caller = { subject: 'bob', team: 'payments', roles: [] };

const issued = (caller: Caller, n: number): AuditEntry => ({
  request_id: `issued-${caller.subject}-${n}`,
  event: 'qwiet.token.issue',
  phase: 'succeeded',
  actor: { subject: caller.subject, team: caller.team },
  target: { vendor: 'qwiet', org_id: 'org', credential_id: `tok-${caller.subject}-${n}` },
});

/** The quotas are counted in the ledger's database (there is no other count). */
describe('IssuanceCounter (on PostgreSQL)', () => {
  let db: TestDatabase;
  let database: Database;
  let sink: PgLedgerSink;
  beforeAll(async () => {
    db = await createTestDatabase();
    database = await Database.connect({ url: db.url });
    sink = await PgLedgerSink.open({ database, hmacKey: 'k'.repeat(32) });
  });
  afterAll(async () => {
    await sink?.close();
    await database?.close();
    await db?.drop();
  });

  it('counts the last hour per team and per subject from the ledger, and reserves and gives back a place', async () => {
    await sink.append([issued(alice, 1), issued(alice, 2), issued(bob, 1)]);
    const counter = new IssuanceCounter(database);
    const first = await counter.hold(alice, 'req-1');
    expect(first.usage).toEqual({ teamLastHour: 3, subjectLastHour: 2 });
    const release = await first.reserve();
    // The reservation counts for the next request until it is given back.
    const second = await counter.hold(bob, 'req-2');
    expect(second.usage).toEqual({ teamLastHour: 4, subjectLastHour: 1 });
    second.cancel();
    release();
    for (let i = 0; i < 50; i++) {
      const third = await counter.hold(bob, 'req-3');
      const usage = third.usage;
      third.cancel();
      if (usage.teamLastHour === 3) break;
    }
    const fourth = await counter.hold(alice, 'req-4');
    fourth.cancel();
    expect(fourth.usage).toEqual({ teamLastHour: 3, subjectLastHour: 2 });
    // The oldest of alice's two leaves the window in about an hour.
    const wait = counter.retryAfterSeconds(alice, undefined, 2);
    expect(wait).toBeGreaterThan(HOUR / 1000 - 60);
    expect(wait).toBeLessThanOrEqual(HOUR / 1000);
    expect(counter.retryAfterSeconds(alice, 5, 5)).toBe(1);
  });

  it('fails closed (503 AUDIT_UNAVAILABLE) when the database cannot be asked', async () => {
    const closed = await Database.connect({ url: db.url });
    await closed.close();
    await expect(new IssuanceCounter(closed).hold(alice, 'req-x')).rejects.toMatchObject({
      status: 503,
      code: 'AUDIT_UNAVAILABLE',
    });
  });
});
