import axios from 'axios';
import { CI_ROLE_ID, UpstreamSimulator, generatedCredentials } from '@app/upstream-sim';
import request from 'supertest';
import { startSimulator, StartedSimulator } from '../support/simulator';

describe('upstream-sim: admin surface and fault injection', () => {
  let s: StartedSimulator;
  let orgId: string;
  let auth: { Authorization: string };
  const createToken = () =>
    s
      .http()
      .post(`/api/v4/orgs/${orgId}/tokens`)
      .set(auth)
      .send({ label: 'f', role_id: CI_ROLE_ID });

  beforeAll(async () => {
    s = await startSimulator();
    orgId = s.options.qwietOrgs[0].id;
    auth = { Authorization: `Bearer ${s.options.qwietOrgs[0].adminToken}` };
  });
  afterAll(() => s.sim.close());
  beforeEach(() => s.admin.reset());

  it('is off unless asked for', async () => {
    const quiet = await UpstreamSimulator.start(generatedCredentials());
    try {
      await request(quiet.url).get('/__sim/state').expect(404);
    } finally {
      await quiet.close();
    }
  });

  it('counts requests per operation and reports issued credentials', async () => {
    await createToken().expect(200);
    const state = await s.admin.state();
    expect(state.requests['qwiet.tokens.create']).toBe(1);
    expect(state.qwiet.tokens.filter((t) => !t.seeded)).toHaveLength(1);
  });

  it('answers a status fault with the vendor envelope, a given number of times, without the side effect', async () => {
    await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'status', status: 503, times: 2 });
    for (let i = 0; i < 2; i++) {
      const res = await createToken().expect(503);
      expect(res.body).toMatchObject({ ok: false, code: 'SERVICE_UNAVAILABLE' });
    }
    await createToken().expect(200);
    expect((await s.admin.state()).qwiet.tokens.filter((t) => !t.seeded)).toHaveLength(1);
  });

  it('serves a custom fault body and the Octane envelope on Octane routes', async () => {
    await s.admin.fault({ op: 'octane.sign_in', kind: 'status', status: 500 });
    const res = await s.http().post('/authentication/sign_in').send({}).expect(500);
    expect(res.body).toMatchObject({
      error_code: 'platform.general_error',
      correlation_id: expect.any(String),
    });
    await request(s.sim.url).delete('/__sim/faults').expect(200);
    await s.admin.fault({
      op: 'qwiet.roles.list',
      kind: 'status',
      status: 418,
      body: { teapot: true },
    });
    expect((await s.http().get(`/api/v4/orgs/${orgId}/roles`).set(auth).expect(418)).body).toEqual({
      teapot: true,
    });
  });

  it('adds latency before the normal answer', async () => {
    await s.admin.fault({ op: 'qwiet.roles.list', kind: 'latency', latency_ms: 150, times: 1 });
    const started = process.hrtime.bigint();
    await s.http().get(`/api/v4/orgs/${orgId}/roles`).set(auth).expect(200);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeGreaterThanOrEqual(140);
  });

  it('resets the connection', async () => {
    await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'reset', times: 1 });
    const error = await axios
      .post(
        `${s.sim.url}/api/v4/orgs/${orgId}/tokens`,
        { label: 'x', role_id: CI_ROLE_ID },
        { headers: auth },
      )
      .catch((e: unknown) => e);
    expect(axios.isAxiosError(error) && error.code).toBe('ECONNRESET');
  });

  it('hangs until the client gives up', async () => {
    await s.admin.fault({ op: 'qwiet.tokens.list', kind: 'hang', times: 1 });
    const error = await axios
      .get(`${s.sim.url}/api/v4/orgs/${orgId}/tokens`, { headers: auth, timeout: 200 })
      .catch((e: unknown) => e);
    expect(axios.isAxiosError(error) && error.code).toBe('ECONNABORTED');
  });

  it('loses the answer after the side effect: the token exists though the caller got 500', async () => {
    await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'lost_answer', times: 1 });
    const res = await createToken().expect(500);
    expect(JSON.stringify(res.body)).not.toContain('value');
    const issued = (await s.admin.state()).qwiet.tokens.filter((t) => !t.seeded);
    expect(issued).toHaveLength(1);
    expect(issued[0].revoked_at).toBeNull();
  });

  it('answers a revocation as done while the credential keeps working (revoke_ignored)', async () => {
    const token = (await createToken().expect(200)).body.response;
    await s.admin.fault({ op: 'qwiet.tokens.delete', kind: 'revoke_ignored', times: 1 });
    await s
      .http()
      .delete(`/api/v4/orgs/${orgId}/tokens/${token.id}`)
      .set(auth)
      .expect(200, { ok: true });
    const listed = await s
      .http()
      .get(`/api/v4/orgs/${orgId}/tokens?show_expired=true`)
      .set(auth)
      .expect(200);
    expect(listed.body.response.map((t: { id: string }) => t.id)).toContain(token.id);
    // Still signs in: the token works.
    await s
      .http()
      .get(`/api/v4/orgs/${orgId}/roles`)
      .set({ Authorization: `Bearer ${token.value}` })
      .expect((res) => expect(res.status).not.toBe(401));
    // The next revocation (the fault used up) really revokes.
    await s.http().delete(`/api/v4/orgs/${orgId}/tokens/${token.id}`).set(auth).expect(200);
    expect((await s.admin.state()).qwiet.tokens.find((t) => t.id === token.id)?.revoked_at).toEqual(
      expect.any(String),
    );

    const space = s.options.octaneSpaces[0];
    const signIn = await s
      .http()
      .post('/authentication/sign_in')
      .send({ client_id: space.clientId, client_secret: space.clientSecret })
      .expect(200);
    const cookie = signIn.headers['set-cookie'];
    const keyId = await s.admin.octaneKeyBehindKeygate({ name: 'kept-working' });
    await s.admin.fault({ op: 'octane.api_accesses.update', kind: 'revoke_ignored', times: 1 });
    const revoked = await s
      .http()
      .put(`/api/shared_spaces/${space.id}/api_accesses/${keyId}?fields=is_valid`)
      .set('Cookie', cookie)
      .send({ is_valid: false })
      .expect(200);
    expect(revoked.body.is_valid).toBe(false);
    const key = (await s.admin.state()).octane.api_accesses.find((a) => a.id === keyId);
    expect(key).toMatchObject({ is_valid: true, revoked_at: null });
  });

  it('forces an Octane session expiry on one route', async () => {
    const { clientId, clientSecret } = s.options.octaneSpaces[0];
    const signIn = await s
      .http()
      .post('/authentication/sign_in')
      .send({ client_id: clientId, client_secret: clientSecret })
      .expect(200);
    const cookie = (signIn.headers['set-cookie'] as unknown as string[])[0].split(';')[0];
    await s.admin.fault({ op: 'octane.roles.list', kind: 'expire_session', times: 1 });
    const res = await s
      .http()
      .get('/api/shared_spaces/1001/roles')
      .set('Cookie', cookie)
      .expect(401);
    expect(res.body.errorCode).toBe('VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT');
    await s.http().get('/api/shared_spaces/1001/workspace_roles').set('Cookie', cookie).expect(401);
  });

  it('rejects a malformed fault', async () => {
    const res = await request(s.sim.url)
      .post('/__sim/faults')
      .send({ op: '', kind: 'explode', status: 42 })
      .expect(400);
    expect(res.body.errors).toHaveLength(3);
  });

  it('reset forgets issued credentials, faults and the clock', async () => {
    await createToken().expect(200);
    await s.admin.fault({ op: '*', kind: 'status', status: 500 });
    await s.admin.advanceClock(3600);
    await s.admin.reset();
    const state = await s.admin.state();
    expect(state.qwiet.tokens.every((t) => t.seeded)).toBe(true);
    expect(
      Math.abs(Date.parse((state as unknown as { now: string }).now) - Date.now()),
    ).toBeLessThan(60_000);
    await createToken().expect(200);
  });
});
