import { createServer, request as httpRequest, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CI_ROLE_ID } from '@app/upstream-sim';
import {
  TEST_AUDIT_KEY,
  startGateway,
  startSimulator,
  StartedGateway,
  StartedSimulator,
  useStack,
} from '../support/gateway';
import { ledgerRecords, verifyStored } from '../support/db';

/** A loopback pass-through in front of the simulator that counts every request a vendor receives. */
async function countingForwarder(target: string) {
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    const upstream = httpRequest(
      `${target}${req.url ?? ''}`,
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Vendor calls so far, Octane sign-ins left out (part of the call that needed them). */
    calls: () => paths.filter((p) => !p.startsWith('/authentication/')).length,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('gateway: health, docs, shutdown, hardening', () => {
  const stack = useStack();

  it('reports live and ready without a token: up or down per component, nothing more', async () => {
    expect((await stack.g.http().get('/health/live').expect(200)).body.status).toBe('ok');
    const ready = await stack.g.http().get('/health/ready').expect(200);
    const up = {
      qwiet: { status: 'up' },
      octane: { status: 'up' },
      audit: { status: 'up' },
      store: { status: 'up' },
    };
    expect(ready.body).toEqual({ status: 'ok', info: up, error: {}, details: up });
  });

  it('tells an admin the details: last check, credential, circuit, error class, audit sink and seq', async () => {
    const [orgA] = stack.s.options.qwietOrgs;
    const [spaceA] = stack.s.options.octaneSpaces;
    const member = { Authorization: `Bearer ${await stack.g.token()}` };
    // A caller without keygate:admin (or with a bad token) gets the public answer: the route stays public.
    for (const headers of [member, { Authorization: 'Bearer not.a.jwt' }]) {
      const res = await stack.g.http().get('/health/ready').set(headers).expect(200);
      expect(res.body.details.audit).toEqual({ status: 'up' });
    }
    const admin = { Authorization: `Bearer ${await stack.g.token({ roles: ['keygate:admin'] })}` };
    const res = await stack.g.http().get('/health/ready').set(admin).expect(200);
    const checkedAt = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/);
    expect(res.body.details).toEqual({
      qwiet: {
        status: 'up',
        circuit: 'closed',
        checked_at: checkedAt,
        credential: orgA.id,
        credentials: { [orgA.id]: { status: 'up', checked_at: checkedAt } },
      },
      octane: {
        status: 'up',
        circuit: 'closed',
        checked_at: checkedAt,
        credential: spaceA.id,
        credentials: { [spaceA.id]: { status: 'up', checked_at: checkedAt } },
      },
      audit: {
        status: 'up',
        sink: expect.stringMatching(
          /^PostgreSQL postgres:\/\/keygate_test:\*\*\*@127\.0\.0\.1:\d+\//,
        ),
        seq: expect.any(Number),
      },
      store: {
        status: 'up',
        database: expect.stringMatching(/^postgres:\/\/keygate_test:\*\*\*@127\.0\.0\.1:\d+\//),
        latency_ms: expect.any(Number),
      },
    });
  });

  it('goes unready, naming the vendor, when a vendor cannot be reached', async () => {
    const dead = await startGateway(stack.s, { OCTANE_BASE_URL: 'http://127.0.0.1:9' });
    try {
      const res = await dead.http().get('/health/ready').expect(503);
      expect(res.body).toMatchObject({ status: 'error', error: { octane: { status: 'down' } } });
      expect(res.body.error).toEqual({ octane: { status: 'down' } });
      const admin = { Authorization: `Bearer ${await dead.token({ roles: ['keygate:admin'] })}` };
      const details = (await dead.http().get('/health/ready').set(admin).expect(503)).body;
      expect(details.error.octane).toMatchObject({
        status: 'down',
        circuit: 'closed',
        error: 'unreachable',
      });
    } finally {
      await dead.close();
    }
  });

  it('serves the OpenAPI document describing every route, body and error', async () => {
    const doc = (await stack.g.http().get('/docs-json').expect(200)).body;
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/qwiet/api/v4/orgs/{orgId}/roles',
        '/qwiet/api/v4/orgs/{orgId}/tokens',
        '/qwiet/api/v4/orgs/{orgId}/tokens/{tokenId}',
        '/octane/api/shared_spaces/{spaceId}/roles',
        '/octane/api/shared_spaces/{spaceId}/workspace_roles',
        '/octane/api/shared_spaces/{spaceId}/api_accesses',
        '/octane/api/shared_spaces/{spaceId}/api_accesses/{id}',
        '/health/ready',
      ]),
    );
    const create = doc.paths['/qwiet/api/v4/orgs/{orgId}/tokens'].post;
    expect(create.requestBody.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/CreateTokenRequestDto',
    );
    expect(Object.keys(create.responses)).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '502', '504']),
    );
    expect(doc.components.schemas.CreateTokenRequestDto.required).toEqual(['label', 'role_id']);
    expect(doc.components.schemas.ApiAccessInputDto.properties).toHaveProperty('workspace_roles');
    expect((await stack.g.http().get('/docs').expect(200)).text).toContain('swagger');
  });

  it('sends security headers and refuses oversized bodies with 413', async () => {
    const res = await stack.g.http().get('/health/live');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toMatch(/^max-age=\d+/);
    expect(res.headers['content-security-policy']).toContain("script-src 'self';");
    expect(res.headers['x-powered-by']).toBeUndefined();
    // errors carry them too; only the Swagger UI may run its inline script
    const refused = await stack.g.http().get('/qwiet/api/v4/orgs/x/roles').expect(401);
    expect(refused.headers['content-security-policy']).toBe(res.headers['content-security-policy']);
    const docs = await stack.g.http().get('/docs').expect(200);
    expect(docs.headers['content-security-policy']).toContain("script-src 'self' 'unsafe-inline'");
    const bearer = { Authorization: `Bearer ${await stack.g.token()}` };
    const big = await stack.g
      .http()
      .post(`/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/tokens`)
      .set(bearer)
      .send({ label: 'x'.repeat(70_000) })
      .expect(413);
    expect(big.body).toMatchObject({ ok: false, code: 'PAYLOAD_TOO_LARGE' });
  });

  it('answers unknown paths 404 in the envelope of the vendor prefix', async () => {
    const bearer = { Authorization: `Bearer ${await stack.g.token()}` };
    expect(
      (await stack.g.http().get('/qwiet/api/v4/orgs/x/nothing').set(bearer).expect(404)).body,
    ).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    expect(
      (await stack.g.http().get('/octane/api/nothing').set(bearer).expect(404)).body,
    ).toMatchObject({
      error_code: 'NOT_FOUND',
    });
  });

  it('takes a path with a trailing slash as the path without it', async () => {
    const bearer = { Authorization: `Bearer ${await stack.g.token()}` };
    const roles = await stack.g
      .http()
      .get(`/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/roles/`)
      .set(bearer)
      .expect(200);
    expect(roles.body.ok).toBe(true);
  });

  it('lets an in-flight issuance finish, audited, when the gateway shuts down', async () => {
    const closing = await startGateway(stack.s);
    const bearer = { Authorization: `Bearer ${await closing.token()}` };
    await stack.s.admin.fault({
      op: 'qwiet.tokens.create',
      kind: 'latency',
      latency_ms: 300,
      times: 1,
    });
    const before = stack.s.sim.requestCount('qwiet.tokens.create');
    const inFlight = closing
      .http()
      .post(`/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/tokens`)
      .set(bearer)
      .set('X-Request-Id', 'req-closing')
      .send({ label: 'closing', role_id: CI_ROLE_ID })
      .then((r) => r.status);
    await new Promise<void>((resolve) => {
      const poll = () =>
        stack.s.sim.requestCount('qwiet.tokens.create') > before ? resolve() : setImmediate(poll);
      poll();
    });
    await closing.close();
    expect(await inFlight).toBe(200);
    // The issuance's attempt and outcome, in a ledger that verifies.
    const records = (await ledgerRecords(closing.db.url)).filter(
      (r) => r.caller_request_id === 'req-closing',
    );
    expect(records.map((r) => r.phase)).toEqual(['attempt', 'succeeded']);
    expect(await verifyStored(closing.db.url, TEST_AUDIT_KEY)).toMatchObject({ ok: true });
  });
});

describe('gateway: readiness never fans out to the vendors', () => {
  let s: StartedSimulator;
  let qwiet: Awaited<ReturnType<typeof countingForwarder>>;
  let octane: Awaited<ReturnType<typeof countingForwarder>>;
  let g: StartedGateway;
  beforeAll(async () => {
    s = await startSimulator();
    qwiet = await countingForwarder(s.sim.url);
    octane = await countingForwarder(s.sim.url);
    g = await startGateway(s, {
      QWIET_BASE_URL: `${qwiet.url}/api/v4`,
      OCTANE_BASE_URL: octane.url,
      UPSTREAM_MAX_SOCKETS: '4',
    });
  });
  afterAll(async () => {
    await g.close();
    await qwiet.close();
    await octane.close();
    await s.sim.close();
  });

  it('answers 50 concurrent probes with at most one call per vendor (the check at start-up)', async () => {
    // Counted from here: start-up makes its own calls (the first check, Keygate's own token id).
    const [qwietBefore, octaneBefore] = [qwiet.calls(), octane.calls()];
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => g.http().get('/health/ready')),
    );
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(qwiet.calls() - qwietBefore).toBeLessThanOrEqual(1);
    expect(octane.calls() - octaneBefore).toBeLessThanOrEqual(1);
  });
});

describe("gateway: readiness checks that the vendors still accept Keygate's own credentials", () => {
  const stack = useStack({ HEALTH_VENDOR_CHECK_MS: '200' });

  /** Probes (bounded: 10 s) until the answer has this status. */
  async function probeUntil(status: number, headers: Record<string, string> = {}) {
    const until = Date.now() + 10_000;
    for (;;) {
      const res = await stack.g.http().get('/health/ready').set(headers);
      if (res.status === status || Date.now() > until) return res;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  it("goes 503 with qwiet down once Keygate's Qwiet token is revoked behind its back", async () => {
    const [orgA, orgB] = stack.s.options.qwietOrgs;
    await stack.g.http().get('/health/ready').expect(200);
    // Revoked at the vendor with Qwiet's own API, as an org admin would.
    const own = (await stack.s.admin.state()).qwiet.tokens.find(
      (t) => t.org_id === orgA.id && t.label === 'Keygate gateway',
    );
    await stack.s
      .http()
      .delete(`/api/v4/orgs/${orgA.id}/tokens/${own?.id}`)
      .set('Authorization', `Bearer ${orgA.adminToken}`)
      .expect(200);

    const res = await probeUntil(503);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      status: 'error',
      info: { octane: { status: 'up' }, audit: { status: 'up' }, store: { status: 'up' } },
      error: { qwiet: { status: 'down' } },
      details: {
        qwiet: { status: 'down' },
        octane: { status: 'up' },
        audit: { status: 'up' },
        store: { status: 'up' },
      },
    });
    const text = JSON.stringify(res.body);
    for (const leak of ['keygate-audit', 'seq', orgA.id, 'credentials_rejected', '/tmp'])
      expect(text).not.toContain(leak);

    const admin = { Authorization: `Bearer ${await stack.g.token({ roles: ['keygate:admin'] })}` };
    // Each org in turn: the revoked one stays down (its last result is kept) while the other is checked.
    const details = (await probeUntil(503, admin)).body.details;
    expect(details.qwiet).toMatchObject({
      status: 'down',
      circuit: 'closed',
      credentials: {
        [orgA.id]: {
          status: 'down',
          error: 'credentials_rejected',
          checked_at: expect.any(String),
        },
      },
    });
    expect(details.audit).toMatchObject({ status: 'up', sink: expect.any(String) });
    expect(Object.keys(details.qwiet.credentials)).toEqual(expect.arrayContaining([orgA.id]));
    expect([orgA.id, orgB.id]).toContain(details.qwiet.credential);
  });
});

describe('gateway: metrics', () => {
  const stack = useStack({});

  it('serves Prometheus metrics to admins (no team member): requests, decisions, vendor latency, audit writes, circuits, sign-ins', async () => {
    const bearer = { Authorization: `Bearer ${await stack.g.token()}` };
    await stack.g
      .http()
      .post(`/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/tokens`)
      .set(bearer)
      .send({ label: 'm', role_id: CI_ROLE_ID })
      .expect(200);
    await stack.g.http().get('/octane/api/shared_spaces/1001/roles').set(bearer).expect(200);
    await stack.g.http().get('/octane/api/shared_spaces/2001/roles').set(bearer).expect(403);
    await stack.g.http().get('/metrics').set(bearer).expect(403);
    await stack.g.http().get('/metrics').expect(401);
    const admin = { Authorization: `Bearer ${await stack.g.token({ roles: ['keygate:admin'] })}` };
    const res = await stack.g.http().get('/metrics').set(admin).expect(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const text = res.text;
    expect(text).toMatch(
      /keygate_http_requests_total\{route="\/qwiet\/api\/v4\/orgs\/:orgId\/tokens",method="POST",status="200"\} 1/,
    );
    expect(text).toMatch(
      /keygate_policy_decisions_total\{rule="scope.octane_shared_space",outcome="violation"\} 1/,
    );
    expect(text).toMatch(
      /keygate_vendor_request_duration_seconds_count\{vendor="qwiet",operation="qwiet.tokens.create",outcome="200"\} 1/,
    );
    expect(text).toMatch(/keygate_audit_write_seconds_count\{step="fdatasync"\} [1-9]/);
    expect(text).toMatch(/keygate_vendor_circuit_state\{vendor="qwiet"\} 0/);
    expect(text).toMatch(/keygate_octane_sign_ins_total 1/);
    // Node's process metrics under their standard names, so stock dashboards work.
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    expect(text).not.toContain('keygate_process_');
    expect(text).not.toContain('keygate_nodejs_');
  });

  it('serves a scraper with only keygate:metrics, which may use nothing else', async () => {
    const scraper = {
      Authorization: `Bearer ${await stack.g.token({ sub: 'prometheus', roles: ['keygate:metrics'] })}`,
    };
    const res = await stack.g.http().get('/metrics').set(scraper).expect(200);
    expect(res.text).toContain('keygate_http_requests_total');
    const member = { Authorization: `Bearer ${await stack.g.token({ sub: 'bob' })}` };
    await stack.g.http().get('/metrics').set(member).expect(403);
    // Roles of their own: the audit log and the policy explanation stay closed to a scraper.
    await stack.g.http().get('/v1/audit').set(scraper).expect(403);
  });
});
