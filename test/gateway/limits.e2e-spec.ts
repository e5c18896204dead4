import request from 'supertest';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { scopeOnlyPolicy, useStack, StartedSimulator, writePolicy } from '../support/gateway';
import { until } from '../support/until';

describe('gateway: request budget per caller', () => {
  const stack = useStack({ RATE_LIMIT_PER_MINUTE: '5' });

  it('answers 429 RATE_LIMITED with Retry-After past the budget, per subject and not per address', async () => {
    const alice = { Authorization: `Bearer ${await stack.g.token({ sub: 'alice' })}` };
    const roles = `/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/roles`;
    for (let i = 0; i < 5; i++) await stack.g.http().get(roles).set(alice).expect(200);
    const limited = await stack.g.http().get(roles).set(alice).expect(429);
    expect(limited.body).toMatchObject({
      ok: false,
      code: 'RATE_LIMITED',
      retry_after_seconds: expect.any(Number),
    });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const octane = await stack.g
      .http()
      .get('/octane/api/shared_spaces/1001/roles')
      .set(alice)
      .expect(429);
    expect(octane.body.error_code).toBe('RATE_LIMITED');

    const bob = { Authorization: `Bearer ${await stack.g.token({ sub: 'bob' })}` };
    await stack.g.http().get(roles).set(bob).expect(200);
    for (let i = 0; i < 10; i++) await stack.g.http().get('/health/live').expect(200);
  });

  it('audits a refused issuance', async () => {
    const carol = { Authorization: `Bearer ${await stack.g.token({ sub: 'carol' })}` };
    const tokens = `/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/tokens`;
    for (let i = 0; i < 5; i++) await stack.g.http().get(tokens).set(carol).expect(200);
    await stack.g
      .http()
      .post(tokens)
      .set(carol)
      .set('X-Request-Id', 'req-throttled-1')
      .send({ label: 'x', role_id: CI_ROLE_ID })
      .expect(429);
    expect((await stack.s.admin.state()).requests['qwiet.tokens.create']).toBeUndefined();
    const auditor = {
      Authorization: `Bearer ${await stack.g.token({ sub: 'eve', roles: ['keygate:auditor'] })}`,
    };
    const records = (
      await stack.g.http().get('/v1/audit?request_id=req-throttled-1').set(auditor).expect(200)
    ).body.records;
    expect(records).toEqual([
      expect.objectContaining({
        event: 'qwiet.token.issue',
        phase: 'denied',
        actor: expect.objectContaining({ subject: 'carol' }),
        decision: expect.objectContaining({ violations: ['rate_limit.caller'] }),
      }),
    ]);
  });
  it('audits refused changes once per window per caller, never the raw path as an id', async () => {
    const dave = { Authorization: `Bearer ${await stack.g.token({ sub: 'dave' })}` };
    const tokens = `/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/tokens`;
    for (let i = 0; i < 5; i++) await stack.g.http().get(tokens).set(dave).expect(200);
    for (let i = 0; i < 20; i++) {
      await stack.g
        .http()
        .post(i % 2 ? tokens : '/qwiet/api/v4/orgs/..%2F..%2Fnot-an-org/tokens')
        .set(dave)
        .send({ label: 'x', role_id: CI_ROLE_ID })
        .expect(429);
    }
    const auditor = {
      Authorization: `Bearer ${await stack.g.token({ sub: 'eve', roles: ['keygate:auditor'] })}`,
    };
    const records = (await stack.g.http().get('/v1/audit?subject=dave').set(auditor).expect(200))
      .body.records;
    expect(records).toHaveLength(1);
    expect(records[0].target.org_id).toBeUndefined();
    const metrics = await stack.g
      .http()
      .get('/metrics')
      .set({
        Authorization: `Bearer ${await stack.g.token({ sub: 'ops', roles: ['keygate:admin'] })}`,
      })
      .expect(200);
    expect(metrics.text).toMatch(
      /keygate_http_requests_total\{[^}]*status="429"[^}]*\} (2\d|[3-9]\d)/,
    );
  });
});

describe('gateway: issuance quotas from the policy', () => {
  const stack = useStack((s: StartedSimulator) => ({
    POLICY_FILE: writePolicy(
      scopeOnlyPolicy(
        s,
        'rules:\n  quota:\n    team_per_hour: { max: 3 }\n    subject_per_hour: { max: 2 }',
      ),
    ),
  }));

  it('refuses the issuance past a quota with 429 QUOTA_EXCEEDED and Retry-After, audited; failures do not count', async () => {
    const tokens = `/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/tokens`;
    const as = async (sub: string) => ({ Authorization: `Bearer ${await stack.g.token({ sub })}` });
    const alice = await as('alice');
    await stack.s.admin.fault({ op: 'qwiet.tokens.create', kind: 'status', status: 503, times: 1 });
    await stack.g
      .http()
      .post(tokens)
      .set(alice)
      .send({ label: 'x', role_id: CI_ROLE_ID })
      .expect(503);
    await stack.g
      .http()
      .post(tokens)
      .set(alice)
      .send({ label: 'a1', role_id: CI_ROLE_ID })
      .expect(200);
    await stack.g
      .http()
      .post(tokens)
      .set(alice)
      .send({ label: 'a2', role_id: CI_ROLE_ID })
      .expect(200);
    const third = await stack.g
      .http()
      .post(tokens)
      .set(alice)
      .set('X-Request-Id', 'req-quota-1')
      .send({ label: 'a3', role_id: CI_ROLE_ID })
      .expect(429);
    expect(third.body).toMatchObject({
      ok: false,
      code: 'QUOTA_EXCEEDED',
      violations: [{ rule: 'quota.subject_per_hour', limit: 2, actual: 3 }],
    });
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(3500);

    const bob = await as('bob');
    await stack.g
      .http()
      .post(tokens)
      .set(bob)
      .send({ label: 'b1', role_id: CI_ROLE_ID })
      .expect(200);
    const teamFull = await stack.g
      .http()
      .post(tokens)
      .set(bob)
      .send({ label: 'b2', role_id: CI_ROLE_ID })
      .expect(429);
    expect(teamFull.body.violations.map((v: { rule: string }) => v.rule)).toEqual([
      'quota.team_per_hour',
    ]);
    expect((await stack.s.admin.state()).qwiet.tokens.filter((t) => !t.seeded)).toHaveLength(3);

    const auditor = {
      Authorization: `Bearer ${await stack.g.token({ sub: 'eve', roles: ['keygate:auditor'] })}`,
    };
    const denied = (
      await stack.g.http().get('/v1/audit?request_id=req-quota-1').set(auditor).expect(200)
    ).body.records;
    expect(denied.map((r: { phase: string }) => r.phase)).toEqual(['denied', 'attempt']);
  });
});

describe('gateway: a circuit breaker per vendor', () => {
  const stack = useStack({
    CIRCUIT_MIN_CALLS: '4',
    CIRCUIT_ERROR_PERCENT: '50',
    // Long enough for the checks below to see the circuit open on a loaded machine.
    CIRCUIT_RESET_MS: '2000',
    UPSTREAM_GET_RETRIES: '0',
  });

  it('opens after repeated failures (503 at once, Retry-After, nothing sent), probes half-open, and closes again', async () => {
    const bearer = { Authorization: `Bearer ${await stack.g.token()}` };
    const roles = `/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/roles`;
    // Start-up made successful calls in the window (readiness, Keygate's own token id): fail until
    // the error share opens the circuit (bounded), then stop failing.
    await stack.s.admin.fault({ op: 'qwiet.roles.list', kind: 'status', status: 503, times: 10 });
    for (let i = 0; i < 10; i++) {
      const failed = await stack.g.http().get(roles).set(bearer).expect(503);
      if (failed.body.code === 'VENDOR_CIRCUIT_OPEN') break;
    }
    await request(stack.s.sim.url).delete('/__sim/faults').expect(200);
    const sent = (await stack.s.admin.state()).requests['qwiet.roles.list'];

    const open = await stack.g.http().get(roles).set(bearer).expect(503);
    expect(open.body).toMatchObject({
      ok: false,
      code: 'VENDOR_CIRCUIT_OPEN',
      retry_after_seconds: 2,
    });
    expect(open.headers['retry-after']).toBe('2');
    expect((await stack.s.admin.state()).requests['qwiet.roles.list']).toBe(sent);
    // Readiness details (the circuit) are for keygate:admin.
    const admin = { Authorization: `Bearer ${await stack.g.token({ roles: ['keygate:admin'] })}` };
    const ready = await stack.g.http().get('/health/ready').set(admin).expect(503);
    expect(ready.body.error.qwiet).toMatchObject({ status: 'down', circuit: 'open' });
    // Octane has its own circuit, still closed.
    await stack.g.http().get('/octane/api/shared_spaces/1001/roles').set(bearer).expect(200);

    // After the reset timeout the circuit lets one probe through; it succeeds and closes the circuit.
    await until(
      async () =>
        (await stack.g.http().get('/health/ready').set(admin)).body.details.qwiet.circuit ===
          'half_open' || undefined,
    );
    await stack.g.http().get(roles).set(bearer).expect(200);
    expect(
      (await stack.g.http().get('/health/ready').set(admin).expect(200)).body.details.qwiet.circuit,
    ).toBe('closed');
  });
});

describe('gateway: one deadline for everything a request does at a vendor', () => {
  const stack = useStack({
    UPSTREAM_TIMEOUT_MS: '400',
    UPSTREAM_DEADLINE_MS: '600',
    UPSTREAM_GET_RETRIES: '3',
  });

  it('stops retrying a slow failing read once the deadline is spent: 504, fewer attempts than retries allow', async () => {
    const bearer = { Authorization: `Bearer ${await stack.g.token()}` };
    // Slow 503s are retried; after two of them (about 600 ms with the backoff) the deadline is spent.
    await stack.s.admin.fault({
      op: 'qwiet.roles.list',
      kind: 'status',
      status: 503,
      latency_ms: 280,
      times: 4,
    });
    const res = await stack.g
      .http()
      .get(`/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/roles`)
      .set(bearer)
      .expect(504);
    expect(res.body).toMatchObject({
      code: 'UPSTREAM_TIMEOUT',
      message: expect.stringMatching(/^Qwiet did not answer/),
    });
    expect((await stack.s.admin.state()).requests['qwiet.roles.list']).toBeLessThan(4);
  });
});
