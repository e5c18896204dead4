import { CI_ROLE_ID } from '@app/upstream-sim';
import { Client } from 'pg';
import request from 'supertest';
import { ledgerRecords } from '../support/db';
import {
  plantAttempt,
  plantRecords,
  qwietIssue,
  startGateway,
  StartedGateway,
  useStack,
} from '../support/gateway';
import { until } from '../support/until';

/** The phases the ledger holds for the issuances with this label, in order. */
async function phasesOf(url: string, label: string): Promise<string[]> {
  return (await ledgerRecords(url))
    .filter((r) => r.target.label === label)
    .map((r) => r.phase + (r.note ? `: ${r.note.split(':')[0]}` : ''));
}

/** Below which seq crash recovery has settled everything (recovery_watermark). */
async function watermark(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ seq: string }>('SELECT seq FROM recovery_watermark');
    return Number(rows[0]?.seq);
  } finally {
    await client.end();
  }
}

describe('crash recovery with several instances on one database', () => {
  // A create may be held 5 s at the vendor here (a gateway starts meanwhile); an attempt is its
  // instance's for a minute.
  const stack = useStack({ UPSTREAM_TIMEOUT_MS: '15000', RECOVERY_AFTER_MS: '60000' });
  const others: StartedGateway[] = [];
  afterAll(async () => {
    for (const g of others) await g.close();
  });

  it('leaves another instance’s issuance in flight to it: an instance starting meanwhile settles nothing', async () => {
    const { s, g } = stack;
    const org = s.options.qwietOrgs[0].id;
    const created = s.sim.requestCount('qwiet.tokens.create');
    await s.admin.fault({
      op: 'qwiet.tokens.create',
      kind: 'latency',
      latency_ms: 5_000,
      times: 1,
    });
    const answer = g
      .http()
      .post(`/qwiet/api/v4/orgs/${org}/tokens`)
      .set({ Authorization: `Bearer ${await g.token()}` })
      .send({ label: 'in-flight', role_id: CI_ROLE_ID, token_type: 'access' });
    const settled = answer.then((res) => res);
    await until(async () => s.sim.requestCount('qwiet.tokens.create') > created || undefined);

    // A second instance starts (a rolling deploy) while the create is at the vendor.
    others.push(await startGateway(s, { DATABASE_URL: g.db.url, RECOVERY_AFTER_MS: '60000' }));
    // Still in flight: the vendor has not created the token yet.
    expect((await s.admin.state()).qwiet.tokens.filter((t) => t.label === 'in-flight')).toEqual([]);
    // Its start-up pass saw the attempt open (the watermark stops at it) and left it alone.
    const [attempt] = (await ledgerRecords(g.db.url)).filter((r) => r.target.label === 'in-flight');
    expect(await watermark(g.db.url)).toBe(attempt.seq);
    expect(await phasesOf(g.db.url, 'in-flight')).toEqual(['attempt']);

    const res = await settled;
    expect(res.status).toBe(200);
    expect(await phasesOf(g.db.url, 'in-flight')).toEqual(['attempt', 'succeeded']);
    const token = (await s.admin.state()).qwiet.tokens.find((t) => t.id === res.body.response.id);
    expect(token?.revoked_at).toBeNull();
  });

  it('a live instance’s pass settles what a dead one left once RECOVERY_AFTER_MS has passed, with no restart', async () => {
    const { s, g } = stack;
    const org = s.options.qwietOrgs[0].id;
    // Another instance sent its create, Qwiet created the token, and the instance died.
    const orphan = await request(s.sim.url)
      .post(`/api/v4/orgs/${org}/tokens`)
      .set({ Authorization: `Bearer ${s.options.qwietOrgs[0].adminToken}` })
      .send({
        label: 'orphan',
        role_id: CI_ROLE_ID,
        token_type: 'access',
        description: '[keygate:req-died]',
      })
      .expect(200);
    const seq = await plantAttempt(g.db.url, org, 'req-died');
    // This instance passes every 100 ms and leaves an attempt to its instance for 5 s.
    const live = await startGateway(s, {
      DATABASE_URL: g.db.url,
      UPSTREAM_DEADLINE_MS: '2000',
      RECOVERY_AFTER_MS: '5000',
      RECOVERY_INTERVAL: '100ms',
    });
    const records = await until(async () => {
      const rs = (await ledgerRecords(g.db.url)).filter((r) => r.request_id === 'req-died');
      return rs.length > 1 ? rs : undefined;
    }).finally(() => live.close());
    expect(records.map((r) => r.phase)).toEqual(['attempt', 'compensated']);
    expect(records[0].seq).toBe(seq);
    expect(records[1].note).toMatch(/^crash recovery: /);
    // Not before the attempt was RECOVERY_AFTER_MS old.
    expect(Date.parse(records[1].time) - Date.parse(records[0].time)).toBeGreaterThanOrEqual(5000);
    expect(records[1].target.credential_id).toBe(orphan.body.response.id);
    const token = (await s.admin.state()).qwiet.tokens.find(
      (t) => t.id === orphan.body.response.id,
    );
    expect(token?.revoked_at).toEqual(expect.any(String));
  });

  it('does not settle a request again that was settled while its pass was asking about another', async () => {
    const { s, g } = stack;
    const org = s.options.qwietOrgs[0].id;
    // An Octane create and a Qwiet issuance left without an outcome, in that order.
    await plantRecords(g.db.url, [
      {
        request_id: 'req-first',
        event: 'octane.api_access.create',
        phase: 'attempt',
        actor: { subject: 'ci', team: 'payments' },
        target: { vendor: 'octane', shared_space_id: '1001', name: 'crashedkey' },
      },
    ]);
    await plantAttempt(g.db.url, org, 'req-second');
    // The pass asks about req-first first; Octane's list of keys (asked by nothing else at
    // start-up) is slow to answer it.
    const lists = s.sim.requestCount('octane.api_accesses.list');
    await s.admin.fault({
      op: 'octane.api_accesses.list',
      kind: 'latency',
      latency_ms: 2_000,
      times: 1,
    });
    const starting = startGateway(s, {
      DATABASE_URL: g.db.url,
      RECOVERY_AFTER_MS: '0',
      UPSTREAM_TIMEOUT_MS: '10000',
    });
    await until(async () => s.sim.requestCount('octane.api_accesses.list') > lists || undefined);
    // Meanwhile req-second gets its outcome (its instance's write landing late, or another pass).
    await plantRecords(g.db.url, [qwietIssue(org, 'req-second', 'succeeded')]);
    others.push(await starting); // its start-up pass has ended

    const phases = async (id: string) =>
      (await ledgerRecords(g.db.url)).filter((r) => r.request_id === id).map((r) => r.phase);
    expect(await phases('req-first')).toEqual(['attempt', 'failed']);
    expect(await phases('req-second')).toEqual(['attempt', 'succeeded']);
  });

  it('answers a retry with the first answer again while the key’s request was settled only for an admin to check', async () => {
    const { s, g } = stack;
    const create = (gateway: StartedGateway, bearer: string) =>
      gateway
        .http()
        .post('/octane/api/shared_spaces/1001/api_accesses')
        .set({ Authorization: `Bearer ${bearer}`, 'Idempotency-Key': 'admin-must-check' })
        .send({ data: [{ name: 'unproven' }] });
    const bearer = await g.token();
    // The first instance: Octane creates the key and loses the answer; listing Octane's keys
    // fails, so it cannot prove the key with the secret it sent, and it stops (a deploy).
    const first = await startGateway(s, { DATABASE_URL: g.db.url, LOST_ANSWER_WINDOW_MS: '60000' });
    await s.admin.fault({ op: 'octane.api_accesses.create', kind: 'lost_answer', times: 1 });
    await s.admin.fault({ op: 'octane.api_accesses.list', kind: 'status', status: 500, times: 10 });
    const answer = await create(first, bearer);
    expect(answer.status).toBe(500);
    await first.close();
    await request(s.sim.url).delete('/__sim/faults').expect(200);

    // A live instance's pass takes the open answer over, without the secret: ambiguous.
    const live = await startGateway(s, {
      DATABASE_URL: g.db.url,
      UPSTREAM_DEADLINE_MS: '1000',
      RECOVERY_AFTER_MS: '3000',
      RECOVERY_INTERVAL: '100ms',
    });
    others.push(live);
    const settlement = await until(async () =>
      (await ledgerRecords(g.db.url)).find(
        (r) => r.target.name === 'unproven' && /^lost answer:/.test(r.note ?? ''),
      ),
    );
    expect(settlement.note).toMatch(/an admin must check/);

    // The retry gets the first answer again: the key may exist, so no second one is created.
    const creates = s.sim.requestCount('octane.api_accesses.create');
    const again = await create(live, bearer);
    expect([again.status, again.body]).toEqual([500, answer.body]);
    expect(s.sim.requestCount('octane.api_accesses.create')).toBe(creates);
    const keys = (await s.admin.state()).octane.api_accesses.filter((k) => k.name === 'unproven');
    expect(keys).toHaveLength(1);
  });
});
