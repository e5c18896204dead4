import { startSimulator, StartedSimulator } from '../support/simulator';

const TECH_PREVIEW = { 'ALM-OCTANE-TECH-PREVIEW': 'true' };
const STRONG = '9011@83sd!f1042ds+f19fg86M';

describe('upstream-sim: Octane authentication and api_accesses', () => {
  let s: StartedSimulator;
  let clientId: string;
  let clientSecret: string;
  const space = '/api/shared_spaces/1001';

  const cookieOf = (res: { headers: Record<string, unknown> }): string => {
    const cookies = res.headers['set-cookie'] as string[];
    return cookies.map((c) => c.split(';')[0]).join('; ');
  };
  const signIn = async (body: object = { client_id: clientId, client_secret: clientSecret }) =>
    cookieOf(await s.http().post('/authentication/sign_in').send(body).expect(200));
  const createKey = (cookie: string, entity: object, query = '') =>
    s
      .http()
      .post(`${space}/api_accesses${query}`)
      .set('Cookie', cookie)
      .set(TECH_PREVIEW)
      .send({ data: [entity] });
  const revoke = (cookie: string, id: string) =>
    s
      .http()
      .put(`${space}/api_accesses/${id}`)
      .set('Cookie', cookie)
      .set(TECH_PREVIEW)
      .send({ is_valid: false });

  beforeAll(async () => {
    s = await startSimulator({
      octaneUsers: [{ user: 'sa@example.com', password: 'Welcome1!' }],
      requireTechPreview: true,
    });
    ({ clientId, clientSecret } = s.options.octaneSpaces[0]);
  });
  afterAll(() => s.sim.close());
  beforeEach(() => s.admin.reset());

  describe('sign in', () => {
    it('sets LWSSO_COOKIE_KEY (HttpOnly, Path=/) for a valid client_id/client_secret', async () => {
      const res = await s
        .http()
        .post('/authentication/sign_in')
        .send({ client_id: clientId, client_secret: clientSecret })
        .expect(200);
      const cookies = res.headers['set-cookie'] as unknown as string[];
      expect(cookies.find((c) => c.startsWith('LWSSO_COOKIE_KEY='))).toMatch(
        /; Path=\/; HttpOnly$/,
      );
      expect(cookies.some((c) => c.startsWith('OCTANE_USER='))).toBe(true);
    });

    it('accepts user/password, and an API key given as user/password (as the JS SDK sends it)', async () => {
      await signIn({ user: 'sa@example.com', password: 'Welcome1!' });
      await signIn({ user: clientId, password: clientSecret });
    });

    it.each([
      ['a wrong secret', () => ({ client_id: clientId, client_secret: 'Wrong-secret-1' })],
      [
        'an unknown key',
        () => ({ client_id: 'nobody_aaaaaaaaaaaaaaaaaaaaaaaaa', client_secret: clientSecret }),
      ],
      ['no body', () => ({})],
    ])('answers 401 for %s', async (_case, body) => {
      const res = await s.http().post('/authentication/sign_in').send(body()).expect(401);
      expect(res.body).toMatchObject({ error_code: 'platform.authentication_failed' });
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    it('refuses /api without a session, and after sign_out', async () => {
      const res = await s.http().get(`${space}/roles`).expect(401);
      expect(res.body).toMatchObject({
        error_code: expect.any(String),
        correlation_id: expect.stringMatching(/^[0-9a-z]{25}$/),
      });
      const cookie = await signIn();
      await s.http().get(`${space}/roles`).set('Cookie', cookie).expect(200);
      await s.http().post('/authentication/sign_out').set('Cookie', cookie).expect(200);
      await s.http().get(`${space}/roles`).set('Cookie', cookie).expect(401);
    });

    it("expires an idle session with Octane's expiry body", async () => {
      const cookie = await signIn();
      await s.admin.advanceClock(16 * 60);
      const res = await s.http().get(`${space}/roles`).set('Cookie', cookie).expect(401);
      expect(res.body).toEqual({
        errorCode: 'VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT',
        accumulatedMessage: 'Previous validation errors (non mandatory validators): ',
      });
      await s
        .http()
        .get(`${space}/roles`)
        .set('Cookie', await signIn())
        .expect(200);
    });

    it('keeps an active session alive past the idle timeout', async () => {
      const cookie = await signIn();
      for (let i = 0; i < 3; i++) {
        await s.admin.advanceClock(10 * 60);
        await s.http().get(`${space}/roles`).set('Cookie', cookie).expect(200);
      }
    });

    it('rotates the cookie on request and retires the old one after the grace period', async () => {
      const cookie = await signIn();
      await s.admin.rotateOctaneSessions();
      const rotated = await s.http().get(`${space}/roles`).set('Cookie', cookie).expect(200);
      const fresh = cookieOf(rotated);
      expect(fresh).toContain('LWSSO_COOKIE_KEY=');
      expect(fresh).not.toEqual(cookie);
      await s.http().get(`${space}/roles`).set('Cookie', cookie).expect(200);
      await s.admin.advanceClock(3);
      await s.http().get(`${space}/roles`).set('Cookie', cookie).expect(401);
      await s.http().get(`${space}/roles`).set('Cookie', fresh).expect(200);
    });
  });

  describe('api_accesses', () => {
    let cookie: string;
    beforeEach(async () => {
      cookie = await signIn();
    });

    it('creates the documented example: 201, list envelope, client_id = name_ + 25 [0-9a-z]', async () => {
      const res = await createKey(
        cookie,
        {
          client_secret: STRONG,
          name: 'myKey03',
          expiration: '2031-08-24T00:00:00Z',
          workspace_roles: {
            data: [
              { type: 'workspace_role', id: '1028' },
              { type: 'workspace_role', id: '1009' },
            ],
          },
        },
        '?fields=client_id',
      ).expect(201);
      expect(res.body).toEqual({
        total_count: 1,
        data: [
          {
            type: 'api_access',
            id: expect.any(String),
            client_id: expect.stringMatching(/^myKey03_[0-9a-z]{25}$/),
            is_valid: true,
          },
        ],
        exceeds_total_count: false,
      });
      expect(JSON.stringify(res.body)).not.toContain(STRONG);
    });

    it('creates with roles_in_all_workspaces and authentication_type (ValueEdge variant)', async () => {
      const res = await createKey(cookie, {
        client_secret: '4fPf=wNEU6vemhwIfYrzKz)@fa',
        authentication_type: 1,
        name: 'key4',
        roles_in_all_workspaces: { data: [{ type: 'role', id: '1007' }] },
      }).expect(201);
      expect(res.body.data[0]).toMatchObject({
        name: 'key4',
        authentication_type: 1,
        is_valid: true,
        expiration: null,
        roles_in_all_workspaces: {
          total_count: 1,
          data: [{ type: 'role', id: '1007', name: 'Workspace Admin' }],
        },
        workspace_roles: { total_count: 0, data: [] },
      });
      expect(res.body.data[0].client_secret).toBeUndefined();
    });

    it.each([
      ['9 characters', 'Abcdef1!x'.slice(0, 9)],
      ['31 characters', 'Aa1!'.repeat(8).slice(0, 31)],
      ['two classes only', 'abcdefgh1234'],
      ['missing', undefined],
    ])(
      'refuses a client_secret with %s (vendor rule 10-30 chars, 3 of 4 classes)',
      async (_case, secret) => {
        const res = await createKey(cookie, { name: 'weak', client_secret: secret }).expect(400);
        expect(res.body).toMatchObject({ total_count: 0, data: [], exceeds_total_count: false });
        expect(res.body.errors[0]).toMatchObject({
          error_code: 'platform.api_access_invalid_secret',
          index: 0,
          business_error: true,
        });
        expect((await s.admin.state()).octane.api_accesses.filter((a) => !a.seeded)).toHaveLength(
          0,
        );
      },
    );

    it.each([
      ['10 characters, 3 classes', 'abcdefgH1!'.slice(0, 10)],
      ['30 characters, 3 classes', 'Abcdefghij1234567890abcdefghij'],
      ['no special character', 'Abcdefghij12'],
    ])('accepts a client_secret of %s', async (_case, secret) => {
      await createKey(cookie, { name: 'ok', client_secret: secret }).expect(201);
    });

    it.each([
      [
        'an unknown workspace role',
        { workspace_roles: { data: [{ type: 'workspace_role', id: '9999' }] } },
        'platform.entity_not_found',
      ],
      ['an unknown field', { owner: 'me' }, 'platform.unknown_field'],
      ['a read-only field', { client_id: 'mine_x' }, 'platform.modify_non_editable_field'],
      [
        'an expiration in the past',
        { expiration: '2001-01-01T00:00:00Z' },
        'platform.invalid_field_value',
      ],
      [
        'an expiration that is not a date',
        { expiration: 'tomorrow' },
        'platform.invalid_field_value',
      ],
      ['a name with a space', { name: 'my key' }, 'platform.invalid_field_value'],
    ])('refuses %s', async (_case, extra, code) => {
      const res = await createKey(cookie, { name: 'k1', client_secret: STRONG, ...extra }).expect(
        400,
      );
      expect(res.body.errors[0]).toMatchObject({ error_code: code, index: 0 });
    });

    it('refuses a duplicate name with 409', async () => {
      await createKey(cookie, { name: 'dup', client_secret: STRONG }).expect(201);
      const res = await createKey(cookie, { name: 'dup', client_secret: STRONG }).expect(409);
      expect(res.body.errors[0]).toMatchObject({
        error_code: 'platform.duplicate_entity_error',
        business_error: true,
      });
    });

    it('refuses a body that is not a data list', async () => {
      const res = await s
        .http()
        .post(`${space}/api_accesses`)
        .set('Cookie', cookie)
        .set(TECH_PREVIEW)
        .send({ name: 'x' })
        .expect(400);
      expect(res.body).toMatchObject({
        error_code: 'platform.general_error',
        description: expect.stringContaining('data'),
      });
    });

    it('requires the technical-preview header when so configured (any documented spelling)', async () => {
      const res = await s.http().get(`${space}/api_accesses`).set('Cookie', cookie).expect(403);
      expect(res.body.error_code).toBe('platform.technical_preview_api');
      for (const header of [
        { ALM_OCTANE_TECH_PREVIEW: 'true' },
        { HPECLIENTTYPE: 'ALM_OCTANE_TECH_PREVIEW' },
        TECH_PREVIEW,
      ]) {
        await s.http().get(`${space}/api_accesses`).set('Cookie', cookie).set(header).expect(200);
      }
    });

    it('gets one key, lists keys with fields, and answers 404 for an unknown id', async () => {
      const id = (await createKey(cookie, { name: 'listed', client_secret: STRONG }).expect(201))
        .body.data[0].id;
      const one = await s
        .http()
        .get(`${space}/api_accesses/${id}`)
        .set('Cookie', cookie)
        .set(TECH_PREVIEW)
        .expect(200);
      expect(one.body).toMatchObject({ type: 'api_access', id, name: 'listed', is_valid: true });
      const list = await s
        .http()
        .get(`${space}/api_accesses?fields=name&query="name EQ 'listed'"`)
        .set('Cookie', cookie)
        .set(TECH_PREVIEW)
        .expect(200);
      expect(list.body).toEqual({
        total_count: 1,
        data: [{ type: 'api_access', id, name: 'listed', is_valid: true }],
        exceeds_total_count: false,
      });
      const missing = await s
        .http()
        .get(`${space}/api_accesses/424242`)
        .set('Cookie', cookie)
        .set(TECH_PREVIEW)
        .expect(404);
      expect(missing.body.error_code).toBe('platform.entity_not_found');
    });

    it('revokes: is_valid false, the key cannot sign in, its sessions end', async () => {
      const created = (
        await createKey(cookie, {
          name: 'ci',
          client_secret: STRONG,
          workspace_roles: { data: [{ type: 'workspace_role', id: '1009' }] },
        }).expect(201)
      ).body.data[0];
      const keySession = await signIn({ client_id: created.client_id, client_secret: STRONG });
      await s.http().get(`${space}/roles`).set('Cookie', keySession).expect(200);

      const res = await revoke(cookie, created.id).expect(200);
      expect(res.body).toMatchObject({ type: 'api_access', id: created.id, is_valid: false });
      await s
        .http()
        .post('/authentication/sign_in')
        .send({ client_id: created.client_id, client_secret: STRONG })
        .expect(401);
      await s.http().get(`${space}/roles`).set('Cookie', keySession).expect(401);
      const state = await s.admin.state();
      expect(state.octane.api_accesses.find((a) => a.id === created.id)?.revoked_at).toEqual(
        expect.any(String),
      );
    });

    it('regenerates: new secret works, old one does not, client_id kept', async () => {
      const created = (
        await createKey(cookie, { name: 'regen', client_secret: STRONG }).expect(201)
      ).body.data[0];
      await revoke(cookie, created.id).expect(200);
      const fresh = 'kj@s$dfS124GDd35';
      const res = await s
        .http()
        .put(`${space}/api_accesses/${created.id}?fields=client_id`)
        .set('Cookie', cookie)
        .set(TECH_PREVIEW)
        .send({ is_valid: true, client_secret: fresh })
        .expect(200);
      expect(res.body).toEqual({
        type: 'api_access',
        id: created.id,
        client_id: created.client_id,
        is_valid: true,
      });
      await signIn({ client_id: created.client_id, client_secret: fresh });
      await s
        .http()
        .post('/authentication/sign_in')
        .send({ client_id: created.client_id, client_secret: STRONG })
        .expect(401);
      expect(
        (await s.admin.state()).octane.api_accesses.find((a) => a.id === created.id)
          ?.regenerated_at,
      ).toHaveLength(1);
    });

    it.each([
      [
        'is_valid true without a new secret on a revoked key',
        { is_valid: true },
        400,
        'platform.invalid_field_value',
      ],
      [
        'a weak new secret',
        { is_valid: true, client_secret: 'short' },
        400,
        'platform.api_access_invalid_secret',
      ],
      ['a read-only field', { client_id: 'x_y' }, 403, 'platform.modify_non_editable_field'],
      ['an unknown field', { colour: 'red' }, 400, 'platform.unknown_field'],
      ['a non-boolean is_valid', { is_valid: 'false' }, 400, 'platform.invalid_field_value'],
    ])('refuses a PUT with %s', async (_case, body, status, code) => {
      const created = (await createKey(cookie, { name: 'put', client_secret: STRONG }).expect(201))
        .body.data[0];
      await revoke(cookie, created.id).expect(200);
      const res = await s
        .http()
        .put(`${space}/api_accesses/${created.id}`)
        .set('Cookie', cookie)
        .set(TECH_PREVIEW)
        .send(body)
        .expect(status);
      expect(res.body.error_code).toBe(code);
    });

    it('does not let an expired key sign in', async () => {
      const expiration = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
      const created = (
        await createKey(cookie, { name: 'exp', client_secret: STRONG, expiration }).expect(201)
      ).body.data[0];
      await signIn({ client_id: created.client_id, client_secret: STRONG });
      await s.admin.advanceClock(3601);
      await s
        .http()
        .post('/authentication/sign_in')
        .send({ client_id: created.client_id, client_secret: STRONG })
        .expect(401);
    });

    it('lets only a Space Admin key manage keys, and only in its own shared space', async () => {
      const plain = (
        await createKey(cookie, {
          name: 'plain',
          client_secret: STRONG,
          workspace_roles: { data: [{ type: 'workspace_role', id: '1028' }] },
        }).expect(201)
      ).body.data[0];
      const plainSession = await signIn({ client_id: plain.client_id, client_secret: STRONG });
      await s.http().get(`${space}/roles`).set('Cookie', plainSession).expect(200);
      await s
        .http()
        .get(`${space}/api_accesses`)
        .set('Cookie', plainSession)
        .set(TECH_PREVIEW)
        .expect(403);
      await s.http().get('/api/shared_spaces/2001/roles').set('Cookie', cookie).expect(403);
      await s.http().get('/api/shared_spaces/4242/roles').set('Cookie', cookie).expect(404);
    });

    it('answers 405 in the Octane envelope for DELETE (not offered by Octane)', async () => {
      const res = await s
        .http()
        .delete(`${space}/api_accesses/1001`)
        .set('Cookie', cookie)
        .expect(405);
      expect(res.body).toMatchObject({
        error_code: 'platform.web_application',
        description: 'HTTP 405 Method Not Allowed',
      });
    });
  });
});
