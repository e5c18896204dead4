import { gatewayGrants } from '../support/grants';
import { fingerprint } from '@app/audit';
import { CI_ROLE_ID } from '@app/upstream-sim';
import {
  asDatabase,
  asServer,
  createTestDatabase,
  ledgerRecords,
  storedText,
  terminateGatewaySessions,
  verifyStored,
} from '../support/db';
import {
  scopeOnlyPolicy,
  startGateway,
  startSimulator,
  StartedGateway,
  StartedSimulator,
  TEST_AUDIT_KEY,
  useStack,
  writePolicy,
} from '../support/gateway';
import { until } from '../support/until';

const POLICY_RULES = 'rules:\n  qwiet:\n    max_lifetime: { max_seconds: 3600 }';

describe('gateway: the audit log', () => {
  let s: StartedSimulator;
  let g: StartedGateway;
  let orgId: string;
  let alice: { Authorization: string };
  let auditor: { Authorization: string };
  const tokens = () => `/qwiet/api/v4/orgs/${orgId}/tokens`;
  const keys = '/octane/api/shared_spaces/1001/api_accesses';
  const audit = (query = '') => g.http().get(`/v1/audit${query}`).set(auditor).expect(200);
  const byRequest = async (id: string) => (await audit(`?request_id=${id}`)).body.records.reverse();

  const stack = useStack((sim) => ({
    POLICY_FILE: writePolicy(scopeOnlyPolicy(sim, POLICY_RULES)),
  }));
  beforeAll(async () => {
    ({ s, g } = stack);
    orgId = s.options.qwietOrgs[0].id;
    alice = { Authorization: `Bearer ${await g.token({ team: 'payments', sub: 'alice' })}` };
    auditor = {
      Authorization: `Bearer ${await g.token({ team: 'security', sub: 'eve', roles: ['keygate:auditor'] })}`,
    };
  });

  it('records an issuance as attempt then succeeded, linked by request id, with a fingerprint and never the value', async () => {
    const res = await g
      .http()
      .post(tokens())
      .set(alice)
      .set('User-Agent', 'ci-script/1.0')
      .set('X-Request-Id', 'req-issue-0001')
      .send({
        label: 'ci-build',
        role_id: CI_ROLE_ID,
        token_type: 'access',
        valid_for_seconds: 600,
      })
      .expect(200);
    const { id, value } = res.body.response;
    const [attempt, outcome] = await byRequest('req-issue-0001');
    expect(attempt).toMatchObject({
      event: 'qwiet.token.issue',
      phase: 'attempt',
      actor: {
        subject: 'alice',
        team: 'payments',
        ip: expect.any(String),
        user_agent: 'ci-script/1.0',
      },
      target: {
        vendor: 'qwiet',
        org_id: orgId,
        label: 'ci-build',
        role_ids: [CI_ROLE_ID],
        token_type: 'access',
        lifetime_requested: 600,
        // On every allowed issuance, not only a clamped one.
        lifetime_effective: 600,
      },
      decision: {
        allowed: true,
        violations: [],
        policy_revision: expect.stringMatching(/^sha256:/),
      },
    });
    expect(outcome).toMatchObject({
      phase: 'succeeded',
      target: { credential_id: id, expires_at: res.body.response.expires_at },
      vendor: { status: 200, latency_ms: expect.any(Number) },
      fingerprint: expect.stringMatching(/^hmac-sha256:[0-9a-f]{64}$/),
      seq: attempt.seq + 1,
      prev_hash: attempt.hash,
    });
    const found = await g
      .http()
      .post('/v1/audit/fingerprint')
      .set(auditor)
      .send({ secret: value })
      .expect(200);
    expect(found.body.fingerprint).toBe(outcome.fingerprint);
    expect(found.body.records.map((r: { seq: number }) => r.seq)).toEqual([outcome.seq]);
    expect(await storedText(g.db.url)).not.toContain(value);
  });

  it('records a denial (attempt + denied, the rule ids) and a vendor failure', async () => {
    await g
      .http()
      .post(tokens())
      .set(alice)
      .set('X-Request-Id', 'req-denied-001')
      .send({ label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 7200 })
      .expect(403);
    const [attempt, denied] = await byRequest('req-denied-001');
    expect([attempt.phase, denied.phase]).toEqual(['attempt', 'denied']);
    expect(denied.decision).toMatchObject({ allowed: false, violations: ['qwiet.max_lifetime'] });

    await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'reset', times: 1 });
    await g
      .http()
      .post(tokens())
      .set(alice)
      .set('X-Request-Id', 'req-failed-001')
      .send({ label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 60 })
      .expect(502);
    const failed = await until(async () => {
      const rs = await byRequest('req-failed-001');
      return rs.length === 3 ? rs : undefined;
    });
    // A broken connection may hide an issued token: Keygate checked Qwiet and says what it found.
    expect(failed.map((r: { phase: string }) => r.phase)).toEqual(['attempt', 'failed', 'failed']);
    expect(failed[1].vendor).toMatchObject({ error: 'unreachable' });
    expect(failed[2].note).toBe(
      'lost answer: Qwiet shows no token with this request’s marker: none was issued',
    );
  });

  it('records Octane create, regenerate and revoke, fingerprinting the generated secret', async () => {
    const created = await g
      .http()
      .post(keys)
      .set(alice)
      .set('X-Request-Id', 'req-octane-01')
      .send({ data: [{ name: 'audited' }] })
      .expect(201);
    const key = created.body.data[0];
    const regen = await g
      .http()
      .put(`${keys}/${key.id}`)
      .set(alice)
      .set('X-Request-Id', 'req-octane-02')
      .send({ is_valid: true })
      .expect(200);
    await g
      .http()
      .put(`${keys}/${key.id}`)
      .set(alice)
      .set('X-Request-Id', 'req-octane-03')
      .send({ is_valid: false })
      .expect(200);
    const outcomes = (
      await audit(`?credential_id=${key.id}&phase=succeeded`)
    ).body.records.reverse();
    expect(outcomes.map((r: { event: string }) => r.event)).toEqual([
      'octane.api_access.create',
      'octane.api_access.regenerate',
      'octane.api_access.revoke',
      // The revocation checked at Octane (verified revocation).
      'credential.revocation_verified',
    ]);
    expect(outcomes[0].target).toMatchObject({
      name: 'audited',
      client_id: key.client_id,
      shared_space_id: '1001',
    });
    const first = (
      await g
        .http()
        .post('/v1/audit/fingerprint')
        .set(auditor)
        .send({ secret: key.client_secret })
        .expect(200)
    ).body;
    const second = (
      await g
        .http()
        .post('/v1/audit/fingerprint')
        .set(auditor)
        .send({ secret: regen.body.client_secret })
        .expect(200)
    ).body;
    // The attempt carries the fingerprint of the secret it sends, the outcome that of the one issued.
    const callerIds = (body: { records: { caller_request_id: string; phase: string }[] }) =>
      body.records.map((r) => [r.caller_request_id, r.phase]);
    expect(callerIds(first)).toEqual([
      ['req-octane-01', 'succeeded'],
      ['req-octane-01', 'attempt'],
    ]);
    expect(callerIds(second)).toEqual([
      ['req-octane-02', 'succeeded'],
      ['req-octane-02', 'attempt'],
    ]);
    const raw = await storedText(g.db.url);
    expect(raw).not.toContain(key.client_secret);
    expect(raw).not.toContain(regen.body.client_secret);
  });

  it('filters and pages, newest first', async () => {
    for (let i = 0; i < 3; i++)
      await g
        .http()
        .post(tokens())
        .set(alice)
        .send({ label: `page-${i}`, role_id: CI_ROLE_ID, valid_for_seconds: 60 })
        .expect(200);
    const page1 = (await audit('?event=qwiet.token.issue&phase=succeeded&limit=2')).body;
    expect(page1.records).toHaveLength(2);
    expect(page1.records[0].seq).toBeGreaterThan(page1.records[1].seq);
    const page2 = (
      await audit(
        `?event=qwiet.token.issue&phase=succeeded&limit=2&before_seq=${page1.next_before_seq}`,
      )
    ).body;
    expect(page2.records[0].seq).toBeLessThan(page1.records[1].seq);
    expect(
      (await audit('?team=payments&subject=alice&vendor=octane&limit=500')).body.records.every(
        (r: { target: { vendor: string } }) => r.target.vendor === 'octane',
      ),
    ).toBe(true);
    expect((await audit('?team=nobody')).body).toEqual({ records: [] });
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await audit(`?from=${future}`)).body.records).toEqual([]);
    expect((await audit(`?to=${future}&limit=1`)).body.records).toHaveLength(1);
    await g.http().get('/v1/audit?limit=0').set(auditor).expect(400);
    await g.http().get('/v1/audit?fingerprint=abc').set(auditor).expect(400);
  });

  it('is for auditors and admins only', async () => {
    const res = await g.http().get('/v1/audit').set(alice).expect(403);
    expect(res.body).toMatchObject({ code: 'FORBIDDEN' });
    await g.http().post('/v1/audit/fingerprint').set(alice).send({ secret: 'x' }).expect(403);
    await g.http().get('/v1/audit/verify').set(alice).expect(403);
    const admin = {
      Authorization: `Bearer ${await g.token({ team: 'ops', roles: ['keygate:admin'] })}`,
    };
    await g.http().get('/v1/audit?limit=1').set(admin).expect(200);
  });

  it('verifies the live ledger, and a verification of the database agrees', async () => {
    const live = (await g.http().get('/v1/audit/verify').set(auditor).expect(200)).body;
    expect(live).toMatchObject({ ok: true, head: 'matches' });
    expect(live.last.seq).toBe(live.live_seq);
    // One more afterwards: the audit.read record of the verification itself.
    expect(await verifyStored(g.db.url, TEST_AUDIT_KEY)).toMatchObject({
      ok: true,
      records: live.records + 1,
    });
    const [read] = (await audit('?event=audit.read&limit=1')).body.records;
    expect(read).toMatchObject({
      phase: 'succeeded',
      actor: { subject: 'eve', team: 'security' },
      read: { kind: 'verify', records: live.records },
    });
  });

  it('records auditors’ own reads: the filters of a query, the fingerprint (never the secret) of a look-up', async () => {
    await audit('?team=payments&event=qwiet.token.issue&limit=3');
    const [query] = (await audit('?event=audit.read&limit=1')).body.records;
    expect(query.read).toEqual({
      kind: 'query',
      filters: { team: 'payments', event: 'qwiet.token.issue', limit: 3 },
      records: 3,
    });
    const secret = 'a-leaked-secret-0123456789';
    const found = (
      await g.http().post('/v1/audit/fingerprint').set(auditor).send({ secret }).expect(200)
    ).body;
    const [lookup] = (await audit('?event=audit.read&limit=2')).body.records.filter(
      (r: { read: { kind: string } }) => r.read.kind === 'fingerprint',
    );
    expect(lookup.read).toEqual({
      kind: 'fingerprint',
      fingerprint: found.fingerprint,
      records: 0,
    });
    expect(await storedText(g.db.url)).not.toContain(secret);
  });

  it('fingerprints the secret a denied request sent, like an issued one', async () => {
    const secret = 'Denied-Secret-0123456789-abc';
    const otherSpace = s.options.octaneSpaces[1].id;
    await g
      .http()
      .post(`/octane/api/shared_spaces/${otherSpace}/api_accesses`)
      .set(alice)
      .set('X-Request-Id', 'req-denied-secret')
      .send({ data: [{ name: 'denied', client_secret: secret }] })
      .expect(403);
    const [attempt, denied] = await byRequest('req-denied-secret');
    expect(denied.phase).toBe('denied');
    expect(attempt.fingerprint).toBe(fingerprint(TEST_AUDIT_KEY, secret));
    expect(denied.fingerprint).toBe(fingerprint(TEST_AUDIT_KEY, secret));
  });

  it('filters by client_id', async () => {
    const created = await g
      .http()
      .post(keys)
      .set(alice)
      .send({ data: [{ name: 'by-client-id' }] })
      .expect(201);
    const clientId = created.body.data[0].client_id;
    const records = (await audit(`?client_id=${clientId}`)).body.records;
    expect(records.map((r: { phase: string }) => r.phase)).toEqual(['succeeded']);
    expect((await audit('?client_id=nobody')).body.records).toEqual([]);
  });
});

/** A Qwiet issuance by the default caller (team payments), for the fail-closed cases. */
async function issueToken(g: StartedGateway, s: StartedSimulator, status: number) {
  const bearer = { Authorization: `Bearer ${await g.token()}` };
  return g
    .http()
    .post(`/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/tokens`)
    .set(bearer)
    .send({ label: 'x', role_id: CI_ROLE_ID })
    .expect(status);
}

describe('gateway: the audit ledger fails closed (PostgreSQL)', () => {
  let s: StartedSimulator;
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(() => s.sim.close());
  beforeEach(() => s.admin.reset());

  const admin = async (g: StartedGateway) => ({
    Authorization: `Bearer ${await g.token({ roles: ['keygate:admin'] })}`,
  });

  /** 503 AUDIT_UNAVAILABLE for changes of both vendors, nothing at the vendor, reads go on, ready red. */
  async function expectClosed(g: StartedGateway) {
    const bearer = { Authorization: `Bearer ${await g.token()}` };
    const res = await issueToken(g, s, 503);
    expect(res.body).toMatchObject({ ok: false, code: 'AUDIT_UNAVAILABLE' });
    const octane = await g
      .http()
      .put('/octane/api/shared_spaces/1001/api_accesses/1001')
      .set(bearer)
      .send({ is_valid: false })
      .expect(503);
    expect(octane.body.error_code).toBe('AUDIT_UNAVAILABLE');
    expect((await s.admin.state()).requests['qwiet.tokens.create']).toBeUndefined();
    expect((await s.admin.state()).requests['octane.api_accesses.update']).toBeUndefined();
    const ready = await g
      .http()
      .get('/health/ready')
      .set(await admin(g))
      .expect(503);
    // A component down names the store: its URL without the password.
    expect(JSON.stringify(ready.body.error)).toMatch(
      /postgres:\/\/keygate_test:\*\*\*@127\.0\.0\.1:\d+\//,
    );
    expect(JSON.stringify(ready.body)).not.toContain(new URL(g.db.url).password);
    await g
      .http()
      .get(`/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/roles`)
      .set(bearer)
      .expect(200);
    return ready.body;
  }

  /** Back by itself: an issuance goes through, ready is green, the chain verifies. */
  async function expectRecovered(g: StartedGateway) {
    await issueToken(g, s, 200);
    await g
      .http()
      .get('/health/ready')
      .set(await admin(g))
      .expect(200);
    expect(await verifyStored(g.db.url, TEST_AUDIT_KEY)).toMatchObject({ ok: true });
  }

  it('database unreachable (connections refused, sessions ended): 503, nothing sent, ready red naming the store; recovers by itself', async () => {
    const g = await startGateway(s, {}, { database: 'own' });
    try {
      await issueToken(g, s, 200);
      await s.admin.reset();
      await asServer(`ALTER DATABASE ${g.db.name} ALLOW_CONNECTIONS false`);
      await terminateGatewaySessions(g.db.name);
      try {
        const ready = await expectClosed(g);
        expect(ready.error.store).toMatchObject({ status: 'down', database: expect.any(String) });
      } finally {
        await asServer(`ALTER DATABASE ${g.db.name} ALLOW_CONNECTIONS true`);
      }
      await expectRecovered(g);
    } finally {
      await g.close();
    }
  });

  it('database read-only: 503, nothing sent, ready red naming the store; recovers by itself', async () => {
    const g = await startGateway(s, {}, { database: 'own' });
    try {
      await issueToken(g, s, 200);
      await s.admin.reset();
      await asServer(`ALTER DATABASE ${g.db.name} SET default_transaction_read_only = on`);
      await terminateGatewaySessions(g.db.name);
      try {
        const ready = await expectClosed(g);
        expect(ready.error.audit).toMatchObject({
          status: 'down',
          sink: expect.stringContaining('PostgreSQL postgres://'),
          message: expect.stringContaining('read-only'),
        });
      } finally {
        await asServer(`ALTER DATABASE ${g.db.name} RESET default_transaction_read_only`);
        await terminateGatewaySessions(g.db.name);
      }
      await expectRecovered(g);
    } finally {
      await g.close();
    }
  });

  it('a write refused mid-request (INSERT revoked): the credential is revoked at the vendor and the caller gets 503', async () => {
    // A least-privilege gateway role (README "Database"), whose INSERT is taken away mid-request.
    const db = await createTestDatabase();
    const role = `keygate_gw_${db.name.slice(-12)}`;
    const password = 'gw-password-0123456789';
    await asServer(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    // The README's grants exactly: a table a migration adds without its grant there fails here.
    await asDatabase(db.url, gatewayGrants(role));
    const url = new URL(db.url);
    url.username = role;
    url.password = password;
    // The create is held 3 s at the vendor, room for the REVOKE below on a loaded machine.
    const g = await startGateway(s, { DATABASE_URL: url.toString(), UPSTREAM_TIMEOUT_MS: '10000' });
    try {
      await s.admin.fault({
        op: 'qwiet.tokens.create',
        kind: 'latency',
        latency_ms: 3_000,
        times: 1,
      });
      const answer = issueToken(g, s, 503);
      // The attempt is recorded and the request is at the vendor: now the ledger refuses writes.
      await until(async () => s.sim.requestCount('qwiet.tokens.create') > 0 || undefined);
      await asDatabase(db.url, `REVOKE INSERT ON ledger_records FROM ${role}`);
      const res = await answer;
      expect(res.body.code).toBe('AUDIT_UNAVAILABLE');
      expect(JSON.stringify(res.body)).not.toContain('eyJ');
      const issued = (await s.admin.state()).qwiet.tokens.filter((t) => !t.seeded);
      expect(issued).toHaveLength(1);
      expect(issued[0].revoked_at).toEqual(expect.any(String));
      const ready = await g
        .http()
        .get('/health/ready')
        .set(await admin(g))
        .expect(503);
      expect(ready.body.error.audit.sink).toContain(`PostgreSQL postgres://${role}:***@`);
      // Given back: recorded from the next write on, and the chain is whole.
      await asDatabase(db.url, `GRANT INSERT ON ledger_records TO ${role}`);
      await issueToken(g, s, 200);
      const records = await ledgerRecords(db.url);
      expect(records.filter((r) => r.phase === 'attempt')).toHaveLength(2);
      expect(await verifyStored(db.url, TEST_AUDIT_KEY)).toMatchObject({ ok: true });
    } finally {
      await g.close();
      await db.drop();
      await asServer(`DROP ROLE IF EXISTS ${role}`);
    }
  });
});

describe('gateway: a vendor that loses its answer after issuing', () => {
  let s: StartedSimulator;
  let g: StartedGateway;
  let bearer: { Authorization: string };
  const stack = useStack();
  beforeAll(async () => {
    ({ s, g } = stack);
    bearer = { Authorization: `Bearer ${await g.token()}` };
  });

  it.each([
    [
      'Qwiet',
      'qwiet.tokens.create',
      '/qwiet/api/v4/orgs/ORG/tokens',
      { label: 'lost', role_id: CI_ROLE_ID },
    ],
    [
      'Octane',
      'octane.api_accesses.create',
      '/octane/api/shared_spaces/1001/api_accesses',
      { data: [{ name: 'lost' }] },
    ],
  ])(
    '%s answers 500 after creating: recorded failed, found at the vendor, revoked, recorded compensated',
    async (vendor, op, path, body) => {
      await s.admin.fault({ op, kind: 'lost_answer', times: 1 });
      const requestId = `req-lost-${vendor}`;
      const res = await g
        .http()
        .post(path.replace('ORG', s.options.qwietOrgs[0].id))
        .set(bearer)
        .set('X-Request-Id', requestId)
        .send(body);
      expect(res.status).toBe(500);
      const auditor = { Authorization: `Bearer ${await g.token({ roles: ['keygate:auditor'] })}` };
      // The vendor is asked in the background once the caller has its answer.
      const records = await until(async () => {
        const rs = (
          await g.http().get(`/v1/audit?request_id=${requestId}`).set(auditor).expect(200)
        ).body.records.reverse();
        return rs.length === 3 ? rs : undefined;
      });
      expect(records.map((r: { phase: string }) => r.phase)).toEqual([
        'attempt',
        'failed',
        'compensated',
      ]);
      expect(records[1].vendor.status).toBe(500);
      const state = await s.admin.state();
      const issued =
        vendor === 'Qwiet'
          ? state.qwiet.tokens.filter((t) => !t.seeded)
          : state.octane.api_accesses.filter((a) => !a.seeded);
      expect(issued).toHaveLength(1);
      expect(records[2].target.credential_id).toBe(issued[0].id);
      expect(issued[0].revoked_at).toEqual(expect.any(String));
    },
  );
});
