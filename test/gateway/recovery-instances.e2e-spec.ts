import { CI_ROLE_ID } from '@app/upstream-sim';
import request from 'supertest';
import { ledgerRecords } from '../support/db';
import { plantAttempt, startGateway, StartedGateway, useStack } from '../support/gateway';
import { until } from '../support/until';

/** The phases the ledger holds for the issuances with this label, in order. */
async function phasesOf(url: string, label: string): Promise<string[]> {
  return (await ledgerRecords(url))
    .filter((r) => r.target.label === label)
    .map((r) => r.phase + (r.note ? `: ${r.note.split(':')[0]}` : ''));
}

describe('crash recovery with several instances on one database', () => {
  // Creates may be held 6 s at the vendor here; an attempt is its instance's for a minute.
  const stack = useStack({ UPSTREAM_TIMEOUT_MS: '10000', RECOVERY_AFTER_MS: '60000' });
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
      latency_ms: 6_000,
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
    // Its start-up found the attempt without an outcome and left it alone.
    expect(await phasesOf(g.db.url, 'in-flight')).toEqual(['attempt']);

    const res = await settled;
    expect(res.status).toBe(200);
    expect(await phasesOf(g.db.url, 'in-flight')).toEqual(['attempt', 'succeeded']);
    const token = (await s.admin.state()).qwiet.tokens.find((t) => t.id === res.body.response.id);
    expect(token?.revoked_at).toBeNull();
  });

  it('a live instance settles what a dead one left on its next pass, with no restart', async () => {
    const { s, g } = stack;
    const org = s.options.qwietOrgs[0].id;
    // This instance passes every 100 ms and takes an attempt at once.
    const live = await startGateway(s, {
      DATABASE_URL: g.db.url,
      RECOVERY_AFTER_MS: '0',
      RECOVERY_INTERVAL: '100ms',
    });
    others.push(live);
    // Another instance wrote its attempt, Qwiet created the token, and the instance died.
    await plantAttempt(g.db.url, org, 'req-died');
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

    const records = await until(async () => {
      const rs = (await ledgerRecords(g.db.url)).filter((r) => r.request_id === 'req-died');
      return rs.length > 1 ? rs : undefined;
    });
    expect(records.map((r) => r.phase)).toEqual(['attempt', 'compensated']);
    expect(records[1].note).toMatch(/^crash recovery: /);
    expect(records[1].target.credential_id).toBe(orphan.body.response.id);
    const token = (await s.admin.state()).qwiet.tokens.find(
      (t) => t.id === orphan.body.response.id,
    );
    expect(token?.revoked_at).toEqual(expect.any(String));
  });
});
