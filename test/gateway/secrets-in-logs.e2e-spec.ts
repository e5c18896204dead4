import { CI_ROLE_ID } from '@app/upstream-sim';
import { StartedGateway, StartedSimulator, useStack } from '../support/gateway';

/** Every secret that passed through the gateway, then every byte it logged: none may appear. */
describe('gateway: no secret in any log line', () => {
  let s: StartedSimulator;
  let g: StartedGateway;

  const stack = useStack({ LOG_LEVEL: 'trace' }, { requireTechPreview: true });
  beforeAll(async () => {
    ({ s, g } = stack);
  });

  it('issues and regenerates credentials, meets failures, and logs none of the secrets', async () => {
    const jwt = await g.token();
    const bearer = { Authorization: `Bearer ${jwt}` };
    const orgId = s.options.qwietOrgs[0].id;
    const secrets: string[] = [jwt];
    for (const org of s.options.qwietOrgs) secrets.push(org.adminToken, org.serviceToken ?? '');
    for (const space of s.options.octaneSpaces) secrets.push(space.clientSecret);

    const issued = await g
      .http()
      .post(`/qwiet/api/v4/orgs/${orgId}/tokens`)
      .set(bearer)
      .send({ label: 'ci', role_id: CI_ROLE_ID })
      .expect(200);
    secrets.push(issued.body.response.value);

    const keySecret = 'Log-Probe-Secret-42!';
    const key = await g
      .http()
      .post('/octane/api/shared_spaces/1001/api_accesses')
      .set(bearer)
      .send({ data: [{ name: 'probe', client_secret: keySecret }] })
      .expect(201);
    secrets.push(keySecret);
    const regenerated = 'Regen-Probe-Secret-43!';
    await g
      .http()
      .put(`/octane/api/shared_spaces/1001/api_accesses/${key.body.data[0].id}`)
      .set(bearer)
      .send({ is_valid: true, client_secret: regenerated })
      .expect(200);
    secrets.push(regenerated);

    // Failures take other code paths: validation, vendor errors, transport errors, a session expiry.
    await g
      .http()
      .post('/octane/api/shared_spaces/1001/api_accesses')
      .set(bearer)
      .send({ data: [{ name: 'weak', client_secret: 'Weak-But-Logged?1', owner: 'x' }] })
      .expect(400);
    secrets.push('Weak-But-Logged?1');
    await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'reset', times: 1 });
    await g
      .http()
      .post(`/qwiet/api/v4/orgs/${orgId}/tokens`)
      .set(bearer)
      .send({ label: 'x', role_id: CI_ROLE_ID })
      .expect(502);
    await s.admin.fault({ op: 'octane.api_accesses.create', kind: 'hang', times: 1 });
    await g
      .http()
      .post('/octane/api/shared_spaces/1001/api_accesses')
      .set(bearer)
      .send({ data: [{ name: 'slow', client_secret: 'Slow-Probe-Secret-44!' }] })
      .expect(504);
    secrets.push('Slow-Probe-Secret-44!');
    await s.admin.expireOctaneSessions();
    await g
      .http()
      .get('/octane/api/shared_spaces/1001/roles')
      .set(bearer)
      .set('Cookie', 'LWSSO_COOKIE_KEY=caller-cookie-value')
      .expect(200);
    secrets.push('caller-cookie-value');

    const logged = g.logs.text();
    expect(logged.length).toBeGreaterThan(1000);
    expect(logged).toContain('"statusCode":504');
    // one line per answer, tied to the X-Request-Id the caller got
    const lines = g.logs.lines.flatMap((chunk) => chunk.split('\n').filter(Boolean));
    const issuedLine = lines
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.req?.id === issued.headers['x-request-id']);
    expect(issuedLine).toEqual([
      expect.objectContaining({
        msg: 'request completed',
        req: expect.objectContaining({ method: 'POST', url: `/qwiet/api/v4/orgs/${orgId}/tokens` }),
        res: { statusCode: 200 },
        responseTime: expect.any(Number),
      }),
    ]);
    for (const secret of secrets.filter(Boolean)) expect(logged).not.toContain(secret);
    expect(logged).not.toMatch(/LWSSO_COOKIE_KEY=[^;"\s]+/);
  });
});
