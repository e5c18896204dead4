import { StartedGateway, StartedSimulator, startGateway, useStack } from '../support/gateway';

const STRONG = '9011@83sd!f1042ds+f19fg86M';

describe('gateway: Octane drop-in surface', () => {
  let s: StartedSimulator;
  let g: StartedGateway;
  let bearer: { Authorization: string };
  const space = '/octane/api/shared_spaces/1001';
  const create = (entity: object, query = '') =>
    g
      .http()
      .post(`${space}/api_accesses${query}`)
      .set(bearer)
      .send({ data: [entity] });
  const signIns = async () => (await s.admin.state()).octane.sign_ins;

  const stack = useStack({}, { requireTechPreview: true });
  beforeAll(async () => {
    ({ s, g } = stack);
    bearer = { Authorization: `Bearer ${await g.token()}` };
  });
  beforeEach(() => s.admin.reset());

  it('passes roles and workspace_roles queries through (fields, query, order_by, limit, offset)', async () => {
    const roles = await g
      .http()
      .get(`${space}/roles?fields=name&order_by=-id&limit=2&offset=0`)
      .set(bearer)
      .expect(200);
    expect(roles.body.data.map((r: { id: string }) => r.id)).toEqual(['1015', '1007']);
    const wr = await g
      .http()
      .get(`${space}/workspace_roles`)
      .query({ fields: 'role', query: '"(role={id=1007};workspace={id=1003})"' })
      .set(bearer)
      .expect(200);
    expect(wr.body).toEqual({
      total_count: 1,
      data: [
        {
          type: 'workspace_role',
          id: '1037',
          role: {
            type: 'role',
            id: '1007',
            logical_name: 'role.workspace.admin',
            name: 'Workspace Admin',
          },
        },
      ],
      exceeds_total_count: false,
    });
  });

  it('cannot smuggle parameters through query: it reaches Octane as one parameter', async () => {
    const res = await g
      .http()
      .get(`${space}/workspace_roles`)
      .query({ query: '"id=1009"&limit=1&fields=role{name}' })
      .set(bearer)
      .expect(400);
    expect(res.body.error_code).toBe('platform.general_error');
    expect(res.body.description).toContain('Illegal query');
  });

  it('creates (201, the documented example), reads, lists, revokes and regenerates a key', async () => {
    const res = await create(
      {
        client_secret: STRONG,
        name: 'myKey03',
        expiration: '2031-08-24T00:00:00Z',
        workspace_roles: { data: [{ type: 'workspace_role', id: '1028' }] },
      },
      '?fields=client_id',
    ).expect(201);
    const key = res.body.data[0];
    expect(res.body).toEqual({
      total_count: 1,
      data: [
        {
          type: 'api_access',
          id: key.id,
          client_id: expect.stringMatching(/^myKey03_[0-9a-z]{25}$/),
          is_valid: true,
        },
      ],
      exceeds_total_count: false,
    });

    await g
      .http()
      .get(`${space}/api_accesses/${key.id}?fields=name,client_id`)
      .set(bearer)
      .expect(200);
    const listed = await g
      .http()
      .get(`${space}/api_accesses`)
      .query({ query: '"name EQ \'myKey03\'"' })
      .set(bearer)
      .expect(200);
    expect(listed.body.total_count).toBe(1);

    const revoked = await g
      .http()
      .put(`${space}/api_accesses/${key.id}`)
      .set(bearer)
      .send({ is_valid: false })
      .expect(200);
    expect(revoked.body).toMatchObject({ id: key.id, is_valid: false });
    // Bringing a revoked key back is an admin's call (octane.reactivation).
    const admin = { Authorization: `Bearer ${await g.token({ roles: ['keygate:admin'] })}` };
    const regenerated = await g
      .http()
      .put(`${space}/api_accesses/${key.id}?fields=client_id`)
      .set(admin)
      .send({ is_valid: true, client_secret: 'kj@s$dfS124GDd35' })
      .expect(200);
    expect(regenerated.body).toEqual({
      type: 'api_access',
      id: key.id,
      client_id: key.client_id,
      is_valid: true,
    });
    const state = (await s.admin.state()).octane.api_accesses.find((a) => a.id === key.id);
    expect(state?.regenerated_at).toHaveLength(1);
  });

  it("passes Octane's own errors through (bulk envelope for a weak secret, 404 for an unknown key read by an admin; a member's unknown key is Keygate's 404, Octane not asked)", async () => {
    const weak = await create({ name: 'weak', client_secret: 'weak' }).expect(400);
    expect(weak.body.errors[0]).toMatchObject({
      error_code: 'platform.api_access_invalid_secret',
      index: 0,
    });
    const admin = { Authorization: `Bearer ${await g.token({ roles: ['keygate:admin'] })}` };
    const missing = await g.http().get(`${space}/api_accesses/424242`).set(admin).expect(404);
    expect(missing.body.error_code).toBe('platform.entity_not_found');
    const reads = s.sim.requestCount('octane.api_accesses.get');
    const notOwned = await g.http().get(`${space}/api_accesses/424242`).set(bearer).expect(404);
    expect(notOwned.body).toMatchObject({ error_code: 'NOT_FOUND', properties: null });
    expect(s.sim.requestCount('octane.api_accesses.get')).toBe(reads);
  });

  describe('validation: 400 in the Octane envelope naming each bad field, nothing sent to Octane', () => {
    it.each([
      [
        'two keys at once',
        {
          data: [
            { name: 'a', client_secret: STRONG },
            { name: 'b', client_secret: STRONG },
          ],
        },
        ['data'],
      ],
      ['no data', {}, ['data']],
      ['a missing name', { data: [{ client_secret: STRONG }] }, ['data[0].name']],
      [
        'an expiration that is not a date-time',
        { data: [{ name: 'a', client_secret: STRONG, expiration: 'next week' }] },
        ['data[0].expiration'],
      ],
      [
        'a non-numeric workspace role id',
        {
          data: [
            { name: 'a', client_secret: STRONG, workspace_roles: { data: [{ id: '10 OR 1=1' }] } },
          ],
        },
        ['data[0].workspace_roles.data[0].id'],
      ],
      [
        'an unknown property',
        { data: [{ name: 'a', client_secret: STRONG, owner: 'me' }] },
        ['data[0].owner'],
      ],
      [
        'authentication_type 2',
        { data: [{ name: 'a', client_secret: STRONG, authentication_type: 2 }] },
        ['data[0].authentication_type'],
      ],
    ])('create with %s', async (_case, body, fields) => {
      const res = await g.http().post(`${space}/api_accesses`).set(bearer).send(body).expect(400);
      expect(res.body).toMatchObject({
        error_code: 'VALIDATION_FAILED',
        correlation_id: res.headers['x-request-id'],
      });
      expect(Object.keys(res.body.properties)).toEqual(expect.arrayContaining(fields));
      expect((await s.admin.state()).requests['octane.api_accesses.create']).toBeUndefined();
    });

    it.each([
      ['regenerate with an empty secret', { is_valid: true, client_secret: '' }, 'client_secret'],
      ['revoke with a secret', { is_valid: false, client_secret: STRONG }, 'client_secret'],
      ['is_valid as a string', { is_valid: 'false' }, 'is_valid'],
      ['an extra field', { is_valid: false, name: 'renamed' }, 'name'],
    ])('update with %s', async (_case, body, field) => {
      const res = await g
        .http()
        .put(`${space}/api_accesses/1001`)
        .set(bearer)
        .send(body)
        .expect(400);
      expect(res.body.properties).toHaveProperty(field);
      expect((await s.admin.state()).requests['octane.api_accesses.update']).toBeUndefined();
    });

    it.each([
      ['a non-numeric shared space', '/octane/api/shared_spaces/abc/roles'],
      ['a traversal in the key id', `${space}/api_accesses/..%2F..%2Froles`],
      ['fields with a bad character', `${space}/roles?fields=name;drop`],
      ['limit 0', `${space}/roles?limit=0`],
      ['limit that is not a number', `${space}/roles?limit=ten`],
      ['a control character in query', `${space}/roles?query=%22id%3D1%0A%22`],
      ['an unknown parameter', `${space}/roles?expand=all`],
    ])('%s', async (_case, path) => {
      const res = await g.http().get(path).set(bearer).expect(400);
      expect(res.body.error_code).toBe('VALIDATION_FAILED');
    });
  });

  it("refuses another team's shared space (403 POLICY_VIOLATION, scope.octane_shared_space)", async () => {
    const res = await g.http().get('/octane/api/shared_spaces/2001/roles').set(bearer).expect(403);
    expect(res.body).toMatchObject({
      error_code: 'POLICY_VIOLATION',
      properties: { 'scope.octane_shared_space': expect.stringContaining('2001') },
      violations: [{ rule: 'scope.octane_shared_space', actual: '2001' }],
    });
  });

  describe('the Octane session', () => {
    it('signs in once and reuses the session', async () => {
      for (let i = 0; i < 3; i++) await g.http().get(`${space}/roles`).set(bearer).expect(200);
      const first = await signIns();
      for (let i = 0; i < 3; i++)
        await g.http().get(`${space}/workspace_roles`).set(bearer).expect(200);
      expect(await signIns()).toBe(first);
    });

    it('after a session expiry, concurrent requests share exactly one re-sign-in and all succeed', async () => {
      await g.http().get(`${space}/roles`).set(bearer).expect(200);
      const before = await signIns();
      await s.admin.expireOctaneSessions();
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          i % 2 === 0
            ? g.http().get(`${space}/workspace_roles?limit=1`).set(bearer)
            : create({ name: `concurrent${i}`, client_secret: STRONG }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 201, 200, 201, 200, 201, 200, 201]);
      expect(await signIns()).toBe(before + 1);
      expect((await s.admin.state()).octane.api_accesses.filter((a) => !a.seeded)).toHaveLength(4);
    });

    it('picks up a rotated cookie, so the old one retiring costs no sign-in', async () => {
      await g.http().get(`${space}/roles`).set(bearer).expect(200);
      const before = await signIns();
      await s.admin.rotateOctaneSessions();
      await g.http().get(`${space}/roles`).set(bearer).expect(200);
      await s.admin.advanceClock(5);
      await g.http().get(`${space}/roles`).set(bearer).expect(200);
      expect(await signIns()).toBe(before);
    });

    it('tells a failing sign-in (5xx) from a refused key', async () => {
      await s.admin.expireOctaneSessions();
      await s.admin.fault({ op: 'octane.sign_in', kind: 'status', status: 500, times: 1 });
      const res = await g.http().get(`${space}/roles`).set(bearer).expect(502);
      expect(res.body).toMatchObject({
        error_code: 'UPSTREAM_BAD_RESPONSE',
        description: 'Octane failed at sign-in (500)',
      });
      await g.http().get(`${space}/roles`).set(bearer).expect(200);
    });

    it("maps Octane refusing Keygate's key to 502 UPSTREAM_CREDENTIALS_REJECTED", async () => {
      const [spaceA, spaceB] = s.options.octaneSpaces;
      const wrong = await startGateway(s, {
        OCTANE_CREDENTIALS: JSON.stringify({
          [spaceA.id]: { client_id: spaceA.clientId, client_secret: 'Wrong-Secret-123' },
          [spaceB.id]: { client_id: spaceB.clientId, client_secret: spaceB.clientSecret },
        }),
      });
      try {
        const res = await wrong.http().get(`${space}/roles`).set(bearer).expect(502);
        expect(res.body).toMatchObject({ error_code: 'UPSTREAM_CREDENTIALS_REJECTED' });
      } finally {
        await wrong.close();
      }
    });
  });

  it('maps an Octane timeout to 504 and a reset to 502, in the Octane envelope', async () => {
    await g.http().get(`${space}/roles`).set(bearer).expect(200);
    await s.admin.fault({ op: 'octane.api_accesses.create', kind: 'hang', times: 1 });
    const timeout = await create({ name: 'slow', client_secret: STRONG }).expect(504);
    expect(timeout.body).toMatchObject({
      error_code: 'UPSTREAM_TIMEOUT',
      correlation_id: timeout.headers['x-request-id'],
    });
    await s.admin.fault({ op: 'octane.api_accesses.update', kind: 'reset', times: 1 });
    const reset = await g
      .http()
      .put(`${space}/api_accesses/9999`)
      .set(bearer)
      .send({ is_valid: false })
      .expect(502);
    expect(reset.body.error_code).toBe('UPSTREAM_UNREACHABLE');
    expect((await s.admin.state()).requests['octane.api_accesses.update']).toBe(1);
  });
});
