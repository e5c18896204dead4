import { Database, verifyLedger } from '@app/ledger';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { asServer, useDatabase } from '../support/db';
import {
  scopeOnlyPolicy,
  StartedGateway,
  startGateway,
  startSimulator,
  StartedSimulator,
  TEST_AUDIT_KEY,
  writePolicy,
} from '../support/gateway';

describe('gateway: two instances on one PostgreSQL ledger', () => {
  const holder = useDatabase();
  let s: StartedSimulator;
  let a: StartedGateway;
  let b: StartedGateway;
  let db: Database;
  let policy: string;
  const tokens = () => `/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/tokens`;
  const as = async (g: StartedGateway, claims: { sub?: string; team?: string } = {}) => ({
    Authorization: `Bearer ${await g.token(claims)}`,
  });

  beforeAll(async () => {
    s = await startSimulator();
    policy = writePolicy(scopeOnlyPolicy(s, 'rules:\n  quota:\n    team_per_hour: { max: 3 }'));
    const env = { DATABASE_URL: holder.url, POLICY_FILE: policy };
    a = await startGateway(s, env);
    b = await startGateway(s, env);
    db = await Database.connect({ url: holder.url });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.close();
    await s?.sim.close();
  });

  it('a token issued through A is revoked through B by its own team (no admin); one chain, inventory kept', async () => {
    const issued = await a
      .http()
      .post(tokens())
      .set(await as(a, { sub: 'alice' }))
      .send({ label: 'ci', role_id: CI_ROLE_ID })
      .expect(200);
    const id = issued.body.response.id as string;
    // bob, same team, another instance: allowed by revocation.other_team's owner from the inventory.
    await b
      .http()
      .delete(`${tokens()}/${id}`)
      .set(await as(b, { sub: 'bob' }))
      .expect(200);
    const row = (
      await db.query('SELECT owner_team, subject, status, revoked_by FROM credentials')
    ).rows.find(() => true);
    expect(row).toEqual({
      owner_team: 'payments',
      subject: 'alice',
      status: 'revoked',
      revoked_by: 'bob',
    });
    // Another team cannot revoke what payments issued, through either instance.
    const other = await a
      .http()
      .post(tokens())
      .set(await as(a, { sub: 'alice' }))
      .send({ label: 'ci2', role_id: CI_ROLE_ID })
      .expect(200);
    await b
      .http()
      .delete(`${tokens()}/${other.body.response.id}`)
      .set(await as(b, { sub: 'mallory', team: 'platform' }))
      .expect(403);
    expect(await verifyLedger(db, { key: TEST_AUDIT_KEY })).toMatchObject({
      ok: true,
      head: 'matches',
    });
    const auditor = { Authorization: `Bearer ${await b.token({ roles: ['keygate:auditor'] })}` };
    const page = await b.http().get(`/v1/audit?credential_id=${id}`).set(auditor).expect(200);
    expect(page.body.records.map((r: { phase: string }) => r.phase)).toEqual(
      expect.arrayContaining(['attempt', 'succeeded']),
    );
    const verified = await a.http().get('/v1/audit/verify').set(auditor).expect(200);
    expect(verified.body).toMatchObject({ ok: true, head: 'matches' });
  });

  it('the quota race: concurrent issuances through both instances against a team quota issue exactly K', async () => {
    // Team platform has issued nothing yet: its quota is 3.
    const platform = async (g: StartedGateway, i: number) =>
      g
        .http()
        .post(`/qwiet/api/v4/orgs/${s.options.qwietOrgs[1].id}/tokens`)
        .set(await as(g, { sub: `p${i}`, team: 'platform' }))
        .send({ label: `race-${i}`, role_id: CI_ROLE_ID });
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => platform(i % 2 ? a : b, i)),
    );
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses.filter((st) => st === 200)).toHaveLength(3);
    expect(statuses.filter((st) => st === 429)).toHaveLength(7);
    const state = await s.admin.state();
    expect(
      state.qwiet.tokens.filter((t) => !t.seeded && t.org_id === s.options.qwietOrgs[1].id),
    ).toHaveLength(3);
  });

  it('fails closed when the database is gone (503 AUDIT_UNAVAILABLE, nothing sent, ready red naming the store) and recovers when it returns', async () => {
    const name = holder.db.name;
    const before = (await s.admin.state()).qwiet.tokens.length;
    await asServer(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await asServer(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}' AND application_name = 'keygate-gateway'`,
    );
    try {
      const refused = await a
        .http()
        .post(tokens())
        .set(await as(a))
        .send({ label: 'down', role_id: CI_ROLE_ID })
        .expect(503);
      expect(refused.body).toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
      expect((await s.admin.state()).qwiet.tokens).toHaveLength(before);
      const admin = { Authorization: `Bearer ${await a.token({ roles: ['keygate:admin'] })}` };
      const ready = await a.http().get('/health/ready').set(admin).expect(503);
      expect(ready.body.details.store).toMatchObject({ status: 'down' });
      expect(JSON.stringify(ready.body)).toContain('postgres://');
    } finally {
      await asServer(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    }
    await a
      .http()
      .post(tokens())
      .set(await as(a))
      .send({ label: 'back', role_id: CI_ROLE_ID })
      .expect(200);
    expect(await verifyLedger(db, { key: TEST_AUDIT_KEY })).toMatchObject({ ok: true });
  });
});
