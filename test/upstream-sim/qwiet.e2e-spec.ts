import { CI_ROLE_ID, JIRA_ROLE_ID, SUPER_ADMIN_ROLE_ID } from '@app/upstream-sim';
import { startSimulator, StartedSimulator } from '../support/simulator';

describe('upstream-sim: Qwiet v4 tokens', () => {
  let s: StartedSimulator;
  let orgId: string;
  let otherOrgId: string;
  let admin: string;
  let service: string;
  const tokens = () => `/api/v4/orgs/${orgId}/tokens`;
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const create = (body: object, token = admin) =>
    s.http().post(tokens()).set(auth(token)).send(body);

  beforeAll(async () => {
    s = await startSimulator();
    [{ id: orgId, adminToken: admin, serviceToken: service = '' }, { id: otherOrgId }] =
      s.options.qwietOrgs;
  });
  afterAll(() => s.sim.close());
  beforeEach(() => s.admin.reset());

  describe('authentication and scopes', () => {
    it.each([
      ['no Authorization header', {}],
      ['an unknown token', { Authorization: 'Bearer eyJ.unknown.value' }],
      ['a non-bearer scheme', { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
    ])('answers 401 in the error envelope for %s', async (_case, headers) => {
      const res = await s.http().get(`/api/v4/orgs/${orgId}/roles`).set(headers).expect(401);
      expect(res.body).toMatchObject({ ok: false, code: 'UNAUTHENTICATED' });
      expect(typeof res.body.message).toBe('string');
    });

    it('refuses a token of another org with 403', async () => {
      const res = await s
        .http()
        .get(`/api/v4/orgs/${otherOrgId}/tokens`)
        .set(auth(admin))
        .expect(403);
      expect(res.body).toMatchObject({ ok: false, code: 'FORBIDDEN' });
    });

    it('lets a created integration token authenticate with its role scopes', async () => {
      const issued = await create({ label: 'automation', role_id: SUPER_ADMIN_ROLE_ID }).expect(
        200,
      );
      const value = issued.body.response.value as string;
      await s.http().get(`/api/v4/orgs/${orgId}/roles`).set(auth(value)).expect(200);
      const res = await create({ label: 'child', role_id: CI_ROLE_ID }, value).expect(200);
      expect(res.body.response.label).toBe('child');
    });

    it('gives a token only its role scopes: a Jira token may not create or list tokens', async () => {
      const jira = (await create({ label: 'jira', role_id: JIRA_ROLE_ID }).expect(200)).body
        .response.value;
      const res = await create({ label: 'x', role_id: CI_ROLE_ID }, jira).expect(403);
      expect(res.body.message).toContain('tokens:create');
      await s.http().get(tokens()).set(auth(jira)).expect(403);
    });

    it('gives access tokens none of the API scopes', async () => {
      const ci = (
        await create({ label: 'ci', role_id: CI_ROLE_ID, token_type: 'access' }).expect(200)
      ).body.response.value;
      await s.http().get(`/api/v4/orgs/${orgId}/roles`).set(auth(ci)).expect(403);
    });
  });

  it('lists the managed token roles', async () => {
    const res = await s.http().get(`/api/v4/orgs/${orgId}/roles`).set(auth(admin)).expect(200);
    expect(res.body.ok).toBe(true);
    expect(res.body.response).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: CI_ROLE_ID, label: 'CI Token', role_type: 'managed' }),
        expect.objectContaining({ id: JIRA_ROLE_ID, label: 'Jira plugin', role_type: 'managed' }),
      ]),
    );
    expect(res.body.response.every((r: { role_type: string }) => r.role_type === 'managed')).toBe(
      true,
    );
  });

  describe('create', () => {
    it('answers 200 with the one-time value and expires_at from valid_for_seconds', async () => {
      const before = Date.now();
      const res = await create({
        label: 'On-prem Jira',
        description: 'Used by the on-prem Jira integration',
        role_id: JIRA_ROLE_ID,
        token_type: 'integration',
        valid_for_seconds: 600,
      }).expect(200);
      const token = res.body.response;
      expect(res.body.ok).toBe(true);
      expect(token).toMatchObject({
        label: 'On-prem Jira',
        role_id: JIRA_ROLE_ID,
        token_type: 'integration',
      });
      expect(token.value).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      const expiresAt = Date.parse(token.expires_at);
      expect(expiresAt).toBeGreaterThanOrEqual(before + 600_000);
      expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);

      const listed = await s.http().get(tokens()).set(auth(admin)).expect(200);
      const entry = listed.body.response.find((t: { id: string }) => t.id === token.id);
      expect(entry).toMatchObject({ label: 'On-prem Jira', expires_at: token.expires_at });
      expect(entry.value).toBeUndefined();
      expect(JSON.stringify(listed.body)).not.toContain(token.value);
    });

    it('issues a non-expiring token when valid_for_seconds is omitted', async () => {
      const res = await create({ label: 'forever', role_id: JIRA_ROLE_ID }).expect(200);
      expect(res.body.response.expires_at).toBeUndefined();
      expect(res.body.response.token_type).toBe('integration');
    });

    it.each([
      ['missing label', { role_id: CI_ROLE_ID }, 'label'],
      ['empty label', { label: ' ', role_id: CI_ROLE_ID }, 'label'],
      ['missing role_id', { label: 'x' }, 'role_id'],
      ['role_id not a UUID', { label: 'x', role_id: '66ad' }, 'role_id'],
      [
        'unknown role_id',
        { label: 'x', role_id: '00000000-0000-4000-8000-000000000000' },
        'role_id',
      ],
      ['bad token_type', { label: 'x', role_id: CI_ROLE_ID, token_type: 'personal' }, 'token_type'],
      [
        'float lifetime',
        { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 1.5 },
        'valid_for_seconds',
      ],
      [
        'string lifetime',
        { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: '60' },
        'valid_for_seconds',
      ],
      [
        'zero lifetime',
        { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 0 },
        'valid_for_seconds',
      ],
      [
        'negative lifetime',
        { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: -5 },
        'valid_for_seconds',
      ],
      [
        'huge lifetime',
        { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 1e20 },
        'valid_for_seconds',
      ],
      [
        'access token with an org role',
        { label: 'x', role_id: SUPER_ADMIN_ROLE_ID, token_type: 'access' },
        'access',
      ],
    ])('answers 400 with validation_errors for %s', async (_case, body, field) => {
      const res = await create(body).expect(400);
      expect(res.body).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
      expect(res.body.validation_errors.join(' ')).toContain(field);
      const state = await s.admin.state();
      expect(state.qwiet.tokens.filter((t) => !t.seeded)).toHaveLength(0);
    });

    it('answers 400 for a body that is not JSON', async () => {
      const res = await s
        .http()
        .post(tokens())
        .set(auth(admin))
        .set('content-type', 'application/json')
        .send('{"label":');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
    });
  });

  describe('service account tokens', () => {
    it('may create a CI token with token_type access', async () => {
      const res = await create(
        {
          label: 'tokenName',
          description: 'A CI token created by a service account',
          role_id: CI_ROLE_ID,
          token_type: 'access',
        },
        service,
      ).expect(200);
      expect(res.body.response).toMatchObject({
        label: 'tokenName',
        token_type: 'access',
        role_id: CI_ROLE_ID,
      });
      await s.http().get(`${tokens()}?show_expired=false`).set(auth(service)).expect(200);
    });

    it.each([
      ['another role', { label: 'x', role_id: JIRA_ROLE_ID, token_type: 'access' }],
      ['an integration token', { label: 'x', role_id: CI_ROLE_ID, token_type: 'integration' }],
      ['the default token_type', { label: 'x', role_id: CI_ROLE_ID }],
    ])('may not create %s (403)', async (_case, body) => {
      const res = await create(body, service).expect(403);
      expect(res.body).toMatchObject({ ok: false, code: 'FORBIDDEN' });
      expect(res.body.message).toContain(CI_ROLE_ID);
    });

    it('may not delete tokens', async () => {
      const id = (await create({ label: 'x', role_id: CI_ROLE_ID }).expect(200)).body.response.id;
      await s.http().delete(`${tokens()}/${id}`).set(auth(service)).expect(403);
    });
  });

  describe('list filters', () => {
    it('hides expired tokens unless show_expired=true', async () => {
      const short = (
        await create({ label: 'short', role_id: CI_ROLE_ID, valid_for_seconds: 60 }).expect(200)
      ).body.response;
      const long = (
        await create({ label: 'long', role_id: CI_ROLE_ID, valid_for_seconds: 3600 }).expect(200)
      ).body.response;
      await s.admin.advanceClock(61);
      const ids = async (query: string) =>
        (await s.http().get(`${tokens()}${query}`).set(auth(admin)).expect(200)).body.response.map(
          (t: { id: string }) => t.id,
        );
      expect(await ids('')).toEqual(expect.arrayContaining([long.id]));
      expect(await ids('')).not.toContain(short.id);
      expect(await ids('?show_expired=false')).not.toContain(short.id);
      expect(await ids('?show_expired=true')).toEqual(expect.arrayContaining([short.id, long.id]));
      // An expired token no longer authenticates.
      await s.http().get(`/api/v4/orgs/${orgId}/roles`).set(auth(short.value)).expect(401);
    });

    it('filters by token_type', async () => {
      await create({ label: 'a', role_id: CI_ROLE_ID, token_type: 'access' }).expect(200);
      await create({ label: 'i', role_id: JIRA_ROLE_ID, token_type: 'integration' }).expect(200);
      const types = async (t: string) =>
        (
          await s.http().get(`${tokens()}?token_type=${t}`).set(auth(admin)).expect(200)
        ).body.response.map((x: { token_type: string }) => x.token_type);
      expect(new Set(await types('access'))).toEqual(new Set(['access']));
      expect(new Set(await types('integration'))).toEqual(new Set(['integration']));
    });

    it.each(['show_expired=maybe', 'token_type=personal'])('answers 400 for %s', async (query) => {
      const res = await s.http().get(`${tokens()}?${query}`).set(auth(admin)).expect(400);
      expect(res.body).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
      expect(res.body.validation_errors).toHaveLength(1);
    });
  });

  describe('delete', () => {
    it('revokes: {"ok":true}, gone from the list, no longer authenticates', async () => {
      const issued = (await create({ label: 'temp', role_id: SUPER_ADMIN_ROLE_ID }).expect(200))
        .body.response;
      const res = await s.http().delete(`${tokens()}/${issued.id}`).set(auth(admin)).expect(200);
      expect(res.body).toEqual({ ok: true });
      const listed = await s
        .http()
        .get(`${tokens()}?show_expired=true`)
        .set(auth(admin))
        .expect(200);
      expect(listed.body.response.map((t: { id: string }) => t.id)).not.toContain(issued.id);
      await s.http().get(`/api/v4/orgs/${orgId}/roles`).set(auth(issued.value)).expect(401);
      const state = await s.admin.state();
      expect(state.qwiet.tokens.find((t) => t.id === issued.id)?.revoked_at).toEqual(
        expect.any(String),
      );
    });

    it('answers 404 NOT_FOUND for an unknown or already deleted id', async () => {
      const id = (await create({ label: 'x', role_id: CI_ROLE_ID }).expect(200)).body.response.id;
      await s.http().delete(`${tokens()}/${id}`).set(auth(admin)).expect(200);
      const again = await s.http().delete(`${tokens()}/${id}`).set(auth(admin)).expect(404);
      expect(again.body).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    });

    it('answers 400 for an id that is not a UUID and 405 for GET on a token', async () => {
      await s.http().delete(`${tokens()}/not-a-uuid`).set(auth(admin)).expect(400);
      const res = await s.http().get(`${tokens()}/${CI_ROLE_ID}`).set(auth(admin)).expect(405);
      expect(res.headers.allow).toBe('DELETE');
      expect(res.body).toMatchObject({ ok: false, code: 'METHOD_NOT_ALLOWED' });
    });

    it('does not let an encoded slash in the id reach another path', async () => {
      const res = await s.http().delete(`${tokens()}/..%2F..%2Froles`).set(auth(admin));
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    });
  });
});
