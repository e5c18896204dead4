import { CI_ROLE_ID, JIRA_ROLE_ID } from '@app/upstream-sim';
import { StartedGateway, StartedSimulator, startGateway, useStack } from '../support/gateway';

describe('gateway: Qwiet drop-in surface', () => {
  let s: StartedSimulator;
  let g: StartedGateway;
  let orgId: string;
  let otherOrg: string;
  let bearer: { Authorization: string };
  const tokens = () => `/qwiet/api/v4/orgs/${orgId}/tokens`;
  const created = async () => (await s.admin.state()).qwiet.tokens.filter((t) => !t.seeded);

  const stack = useStack();
  beforeAll(async () => {
    ({ s, g } = stack);
    [{ id: orgId }, { id: otherOrg }] = s.options.qwietOrgs;
    bearer = { Authorization: `Bearer ${await g.token()}` };
  });
  beforeEach(() => s.admin.reset());

  it('lists roles exactly as Qwiet answers them', async () => {
    const direct = await s
      .http()
      .get(`/api/v4/orgs/${orgId}/roles`)
      .set({ Authorization: `Bearer ${s.options.qwietOrgs[0].adminToken}` });
    const res = await g.http().get(`/qwiet/api/v4/orgs/${orgId}/roles`).set(bearer).expect(200);
    expect(res.body).toEqual(direct.body);
  });

  it('issues, lists and revokes a token; the value comes back once', async () => {
    const issued = await g
      .http()
      .post(tokens())
      .set(bearer)
      .send({ label: 'ci', role_id: CI_ROLE_ID, token_type: 'access', valid_for_seconds: 3600 })
      .expect(200);
    expect(issued.body).toMatchObject({
      ok: true,
      response: { label: 'ci', token_type: 'access', value: expect.stringMatching(/^eyJ/) },
    });
    const id = issued.body.response.id;

    const listed = await g
      .http()
      .get(`${tokens()}?show_expired=false&token_type=access`)
      .set(bearer)
      .expect(200);
    expect(listed.body.response.map((t: { id: string }) => t.id)).toEqual([id]);

    expect((await g.http().delete(`${tokens()}/${id}`).set(bearer).expect(200)).body).toEqual({
      ok: true,
    });
    expect((await created())[0].revoked_at).toEqual(expect.any(String));
  });

  it("passes Qwiet's own errors through with their status and envelope", async () => {
    const unknownRole = await g
      .http()
      .post(tokens())
      .set(bearer)
      .send({ label: 'x', role_id: '00000000-0000-4000-8000-000000000000' })
      .expect(400);
    expect(unknownRole.body).toMatchObject({
      ok: false,
      code: 'BAD_REQUEST',
      validation_errors: [expect.stringContaining('role_id')],
    });
    const missing = await g
      .http()
      .delete(`${tokens()}/00000000-0000-4000-8000-000000000000`)
      .set(bearer)
      .expect(404);
    expect(missing.body).toEqual({ ok: false, code: 'NOT_FOUND', message: 'token was not found' });
  });

  describe('validation: 400 naming each bad field, nothing sent to Qwiet', () => {
    it.each([
      [
        'float lifetime',
        { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 1.5 },
        ['valid_for_seconds'],
      ],
      [
        'string lifetime',
        { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: '60' },
        ['valid_for_seconds'],
      ],
      [
        'zero lifetime',
        { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 0 },
        ['valid_for_seconds'],
      ],
      [
        'huge lifetime',
        { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 1e20 },
        ['valid_for_seconds'],
      ],
      ['role_id not a UUID', { label: 'x', role_id: '66ad' }, ['role_id']],
      ['missing label and role', {}, ['label', 'role_id']],
      [
        'bad token_type',
        { label: 'x', role_id: CI_ROLE_ID, token_type: 'personal' },
        ['token_type'],
      ],
      ['an unknown property', { label: 'x', role_id: CI_ROLE_ID, owner: 'me' }, ['owner']],
      ['a body that is an array', [{ label: 'x' }], []],
    ])('%s', async (_case, body, fields) => {
      const res = await g
        .http()
        .post(tokens())
        .set(bearer)
        .send(body as object)
        .expect(400);
      expect(res.body).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
      for (const field of fields) {
        expect(res.body.validation_errors).toEqual(
          expect.arrayContaining([expect.stringMatching(new RegExp(`^${field}: `))]),
        );
      }
      expect((await s.admin.state()).requests['qwiet.tokens.create']).toBeUndefined();
    });

    it('malformed JSON', async () => {
      const res = await g
        .http()
        .post(tokens())
        .set(bearer)
        .set('content-type', 'application/json')
        .send('{"label":')
        .expect(400);
      expect(res.body).toMatchObject({ ok: false, code: 'VALIDATION_FAILED' });
    });

    it.each([
      ['an org id that is not a UUID', '/qwiet/api/v4/orgs/acme/roles'],
      ['a token id that is not a UUID', `/qwiet/api/v4/orgs/ORG/tokens/..%2Froles`],
      ['an unknown query parameter', `/qwiet/api/v4/orgs/ORG/tokens?page=2`],
      ['a bad show_expired', `/qwiet/api/v4/orgs/ORG/tokens?show_expired=yes`],
    ])('%s', async (_case, path) => {
      const method = path.includes('%2F') ? 'delete' : 'get';
      const res = await g.http()[method](path.replace('ORG', orgId)).set(bearer).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(
        Object.keys((await s.admin.state()).requests).filter((op) => op.startsWith('qwiet')),
      ).toEqual([]);
    });
  });

  it("refuses another team's org (403 POLICY_VIOLATION, scope.qwiet_org), and lets an admin use it", async () => {
    const res = await g.http().get(`/qwiet/api/v4/orgs/${otherOrg}/roles`).set(bearer).expect(403);
    expect(res.body).toMatchObject({
      ok: false,
      code: 'POLICY_VIOLATION',
      violations: [{ rule: 'scope.qwiet_org', actual: otherOrg }],
    });
    const admin = {
      Authorization: `Bearer ${await g.token({ team: 'payments', roles: ['keygate:admin'] })}`,
    };
    await g.http().get(`/qwiet/api/v4/orgs/${otherOrg}/roles`).set(admin).expect(200);
    const unknownOrg = await g
      .http()
      .get('/qwiet/api/v4/orgs/00000000-0000-4000-8000-000000000000/roles')
      .set(admin)
      .expect(404);
    expect(unknownOrg.body.code).toBe('NOT_FOUND');
  });

  describe('transport failures', () => {
    it('maps a vendor timeout to 504 UPSTREAM_TIMEOUT in the Qwiet envelope', async () => {
      await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'hang', times: 1 });
      const res = await g
        .http()
        .post(tokens())
        .set(bearer)
        .send({ label: 'x', role_id: CI_ROLE_ID })
        .expect(504);
      expect(res.body).toEqual({
        ok: false,
        code: 'UPSTREAM_TIMEOUT',
        message: 'Qwiet did not answer in time',
      });
    });

    it('maps a connection reset on a create to 502 and never retries the create', async () => {
      await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'reset', times: 1 });
      const res = await g
        .http()
        .post(tokens())
        .set(bearer)
        .send({ label: 'x', role_id: CI_ROLE_ID })
        .expect(502);
      expect(res.body).toMatchObject({ ok: false, code: 'UPSTREAM_UNREACHABLE' });
      expect((await s.admin.state()).requests['qwiet.tokens.create']).toBe(1);
    });

    it('retries a GET after a reset or a 503', async () => {
      await s.admin.fault({ op: 'qwiet.tokens.list', kind: 'reset', times: 1 });
      await g.http().get(tokens()).set(bearer).expect(200);
      await s.admin.fault({ op: 'qwiet.roles.list', kind: 'status', status: 503, times: 1 });
      await g.http().get(`/qwiet/api/v4/orgs/${orgId}/roles`).set(bearer).expect(200);
      const counts = (await s.admin.state()).requests;
      expect([counts['qwiet.tokens.list'], counts['qwiet.roles.list']]).toEqual([2, 2]);
    });

    it("passes a vendor 500 on a create through, in Qwiet's envelope, without retrying", async () => {
      await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'status', status: 500, times: 1 });
      const res = await g
        .http()
        .post(tokens())
        .set(bearer)
        .send({ label: 'x', role_id: JIRA_ROLE_ID })
        .expect(500);
      expect(res.body).toMatchObject({ ok: false, code: 'INTERNAL_SERVER_ERROR' });
      expect((await s.admin.state()).requests['qwiet.tokens.create']).toBe(1);
    });

    it('maps an answer that is not JSON to 502 UPSTREAM_BAD_RESPONSE', async () => {
      await s.admin.fault({
        op: 'qwiet.roles.list',
        kind: 'status',
        status: 200,
        body: 'not json',
        times: 1,
      });
      const res = await g.http().get(`/qwiet/api/v4/orgs/${orgId}/roles`).set(bearer).expect(502);
      expect(res.body.code).toBe('UPSTREAM_BAD_RESPONSE');
    });
  });

  it("maps Qwiet refusing Keygate's own token to 502 UPSTREAM_CREDENTIALS_REJECTED", async () => {
    const wrong = await startGateway(s, {
      QWIET_ORG_TOKENS: JSON.stringify({
        [orgId]: 'eyJ.revoked.token',
        [otherOrg]: 'eyJ.other.token',
      }),
    });
    try {
      const res = await wrong
        .http()
        .get(`/qwiet/api/v4/orgs/${orgId}/roles`)
        .set(bearer)
        .expect(502);
      expect(res.body.code).toBe('UPSTREAM_CREDENTIALS_REJECTED');
    } finally {
      await wrong.close();
    }
  });

  it('answers with X-Request-Id: the caller’s when sane, a fresh one otherwise', async () => {
    const mine = await g
      .http()
      .get(`/qwiet/api/v4/orgs/${orgId}/roles`)
      .set(bearer)
      .set('X-Request-Id', 'trace-1234-abcd')
      .expect(200);
    expect(mine.headers['x-request-id']).toBe('trace-1234-abcd');
    const insane = await g
      .http()
      .get(`/qwiet/api/v4/orgs/${orgId}/roles`)
      .set(bearer)
      .set('X-Request-Id', 'bad id\twith spaces')
      .expect(200);
    expect(insane.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const error = await g.http().get('/qwiet/api/v4/orgs/acme/roles').set(bearer).expect(400);
    expect(error.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
