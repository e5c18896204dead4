import { CI_ROLE_ID } from '@app/upstream-sim';
import { verifyAuditLog } from '@app/audit';
import { TEST_AUDIT_KEY, startGateway, useStack } from '../support/gateway';

describe('gateway: health, docs, shutdown, hardening', () => {
  const stack = useStack();

  it('reports live and ready without a token', async () => {
    expect((await stack.g.http().get('/health/live').expect(200)).body.status).toBe('ok');
    const ready = await stack.g.http().get('/health/ready').expect(200);
    expect(ready.body.details).toEqual({
      qwiet: { status: 'up', circuit: 'closed' },
      octane: { status: 'up', circuit: 'closed' },
      audit: {
        status: 'up',
        file: expect.stringMatching(/keygate-audit-000001\.jsonl$/),
        seq: expect.any(Number),
      },
    });
  });

  it('goes unready, naming the vendor, when a vendor cannot be reached', async () => {
    const dead = await startGateway(stack.s, { OCTANE_BASE_URL: 'http://127.0.0.1:9' });
    try {
      const res = await dead.http().get('/health/ready').expect(503);
      expect(res.body.error).toEqual({
        octane: { status: 'down', message: 'octane is not reachable', circuit: 'closed' },
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
      .send({ label: 'closing', role_id: CI_ROLE_ID })
      .then((r) => r.status);
    await new Promise<void>((resolve) => {
      const poll = () =>
        stack.s.sim.requestCount('qwiet.tokens.create') > before ? resolve() : setImmediate(poll);
      poll();
    });
    await closing.close();
    expect(await inFlight).toBe(200);
    // policy.loaded at start-up, then the issuance's attempt and outcome.
    expect(verifyAuditLog(closing.config.audit.dir, TEST_AUDIT_KEY)).toMatchObject({
      ok: true,
      records: 3,
    });
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
