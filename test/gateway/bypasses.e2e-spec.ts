import { SignJWT } from 'jose';
import { until } from '../support/until';
import { scopeOnlyPolicy, TEST_JWT_SECRET, useStack, writePolicy } from '../support/gateway';

const STRONG = '9011@83sd!f1042ds+f19fg86M';
const CI_ROLE = '66ad5168-41be-4b6c-9ac5-a30b02229c35';
const hs256 = (claims: Record<string, unknown>) =>
  new SignJWT({ exp: Math.floor(Date.now() / 1000) + 600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode(TEST_JWT_SECRET));

describe('gateway: policy bypasses closed', () => {
  const stack = useStack((s) => ({
    POLICY_FILE: writePolicy(
      scopeOnlyPolicy(
        s,
        [
          'rules:',
          '  qwiet: { lifetime_required: {}, max_lifetime: { max_seconds: 86400 } }',
          '  octane: { expiration_required: {}, max_expiration: { max_days: 30 } }',
        ].join('\n'),
      ),
    ),
  }));
  const org = () => stack.s.options.qwietOrgs[0].id;
  const bearer = async () => ({ Authorization: `Bearer ${await stack.g.token()}` });
  const vendorWrites = async () =>
    Object.entries((await stack.s.admin.state()).requests)
      .filter(([op]) => /create|update|delete/.test(op))
      .reduce((n, [, count]) => n + count, 0);

  describe('a present field must have its type: null is a 400 naming it', () => {
    const qwietToken = {
      label: 'ci',
      role_id: CI_ROLE,
      description: 'd',
      token_type: 'access',
      valid_for_seconds: 3600,
    };
    const octaneKey = {
      type: 'api_access',
      name: 'nullcheck',
      client_secret: STRONG,
      expiration: new Date(Date.now() + 86400_000).toISOString(),
      authentication_type: 0,
      workspace_roles: { data: [{ type: 'workspace_role', id: '1028' }] },
      roles_in_all_workspaces: { data: [{ type: 'role', id: '1007' }] },
    };

    it.each(['description', 'token_type', 'valid_for_seconds'])(
      'Qwiet token %s: null',
      async (field) => {
        const before = await vendorWrites();
        const res = await stack.g
          .http()
          .post(`/qwiet/api/v4/orgs/${org()}/tokens`)
          .set(await bearer())
          .send({ ...qwietToken, [field]: null })
          .expect(400);
        expect(res.body.code).toBe('VALIDATION_FAILED');
        expect(res.body.validation_errors.join('\n')).toMatch(new RegExp(`^${field}: `, 'm'));
        expect(await vendorWrites()).toBe(before);
      },
    );

    it.each([
      'type',
      'client_secret',
      'expiration',
      'authentication_type',
      'workspace_roles',
      'roles_in_all_workspaces',
    ])('Octane key %s: null', async (field) => {
      const before = await vendorWrites();
      const res = await stack.g
        .http()
        .post('/octane/api/shared_spaces/1001/api_accesses')
        .set(await bearer())
        .send({ data: [{ ...octaneKey, [field]: null }] })
        .expect(400);
      expect(res.body.error_code).toBe('VALIDATION_FAILED');
      expect(Object.keys(res.body.properties ?? {})).toContain(`data[0].${field}`);
      expect(await vendorWrites()).toBe(before);
    });

    it('Octane role reference type: null', async () => {
      const res = await stack.g
        .http()
        .post('/octane/api/shared_spaces/1001/api_accesses')
        .set(await bearer())
        .send({
          data: [{ ...octaneKey, workspace_roles: { data: [{ type: null, id: '1028' }] } }],
        })
        .expect(400);
      expect(Object.keys(res.body.properties)).toContain('data[0].workspace_roles.data[0].type');
    });

    it('Octane regeneration client_secret: null is a 400, not a 500', async () => {
      const res = await stack.g
        .http()
        .put('/octane/api/shared_spaces/1001/api_accesses/1')
        .set(await bearer())
        .send({ is_valid: true, client_secret: null })
        .expect(400);
      expect(Object.keys(res.body.properties)).toContain('client_secret');
    });

    it('explain: a null team or body is refused too', async () => {
      const res = await stack.g
        .http()
        .post('/v1/policy/explain')
        .set(await bearer())
        .send({ action: 'qwiet.read', org_id: org(), team: null })
        .expect(400);
      expect(res.body.code ?? res.body.error_code).toBe('VALIDATION_FAILED');
    });
  });

  describe('subject and team are non-empty strings of bounded length, or 401', () => {
    it.each<[string, unknown]>([
      ['null', null],
      ['an object', { id: 'alice' }],
      ['an array', ['alice']],
      ['a number', 42],
      ['empty', ''],
      ['too long', 'a'.repeat(257)],
    ])('sub %s', async (_name, sub) => {
      const token = await hs256({ sub, team: 'payments' });
      const res = await stack.g
        .http()
        .get(`/qwiet/api/v4/orgs/${org()}/roles`)
        .set({ Authorization: `Bearer ${token}` })
        .expect(401);
      expect(res.body.code).toBe('UNAUTHENTICATED');
    });

    it.each<[string, unknown]>([
      ['too long', 'p'.repeat(65)],
      ['a number', 7],
      ['with control characters', 'pay\nments'],
    ])('team %s', async (_name, team) => {
      const token = await hs256({ sub: 'alice', team });
      await stack.g
        .http()
        .get(`/qwiet/api/v4/orgs/${org()}/roles`)
        .set({ Authorization: `Bearer ${token}` })
        .expect(401);
    });
  });

  it('answers that carry a token value or a client_secret are never cached', async () => {
    const qwiet = await stack.g
      .http()
      .post(`/qwiet/api/v4/orgs/${org()}/tokens`)
      .set(await bearer())
      .send({ label: 'nostore', role_id: CI_ROLE, valid_for_seconds: 600 })
      .expect(200);
    expect(qwiet.body.response.value).toEqual(expect.any(String));
    expect(qwiet.headers['cache-control']).toBe('no-store');
    const octane = await stack.g
      .http()
      .post('/octane/api/shared_spaces/1001/api_accesses')
      .set(await bearer())
      .send({
        data: [{ name: 'nostore', expiration: new Date(Date.now() + 86400_000).toISOString() }],
      })
      .expect(201);
    expect(octane.headers['cache-control']).toBe('no-store');
    const regenerated = await stack.g
      .http()
      .put(`/octane/api/shared_spaces/1001/api_accesses/${octane.body.data[0].id}`)
      .set(await bearer())
      .send({ is_valid: true })
      .expect(200);
    expect(regenerated.body.client_secret).toEqual(expect.any(String));
    expect(regenerated.headers['cache-control']).toBe('no-store');
  });
});

describe('gateway: the rules of the team that owns the org or space', () => {
  const days = (n: number) => new Date(Date.now() + n * 86400_000).toISOString();
  const stack = useStack((s) => {
    const [orgA, orgB] = s.options.qwietOrgs;
    return {
      POLICY_FILE: writePolicy(
        [
          'version: 1',
          'rules:',
          '  octane: { max_expiration: { max_days: 90 } }',
          'teams:',
          `  payments: { qwiet_orgs: [${orgA.id}], octane_shared_spaces: ['1001'], rules: { octane: { max_expiration: { max_days: 60 } } } }`,
          `  platform: { qwiet_orgs: [${orgB.id}], octane_shared_spaces: ['2001'], rules: { octane: { max_expiration: { max_days: 30 } } } }`,
          `  ops: { qwiet_orgs: [${orgB.id}] }`,
          '',
        ].join('\n'),
      ),
    };
  });
  const as = async (team: string, roles: string[] = [], sub = `${team}-user`) => ({
    Authorization: `Bearer ${await stack.g.token({ team, roles, sub })}`,
  });
  const admin = () => as('payments', ['keygate:admin'], 'root');
  const create = async (space: string, who: Record<string, string>, body: object, status: number) =>
    stack.g
      .http()
      .post(`/octane/api/shared_spaces/${space}/api_accesses`)
      .set(who)
      .send({ data: [body] })
      .expect(status);

  it('an admin of another team gets the owning team’s caps, and the key belongs to that team', async () => {
    const denied = await create('2001', await admin(), { name: 'long', expiration: days(45) }, 403);
    expect(denied.body.error_code).toBe('POLICY_VIOLATION');
    expect(Object.keys(denied.body.properties)).toContain('octane.max_expiration');
    const ok = await create('2001', await admin(), { name: 'short', expiration: days(20) }, 201);
    const id = ok.body.data[0].id;
    // platform revokes it in its own space: it is platform's key.
    await stack.g
      .http()
      .put(`/octane/api/shared_spaces/2001/api_accesses/${id}`)
      .set(await as('platform'))
      .send({ is_valid: false })
      .expect(200);
    const records = (
      await stack.g
        .http()
        .get(`/v1/audit?credential_id=${id}`)
        .set(await as('audit', ['keygate:auditor']))
        .expect(200)
    ).body.records;
    const issued = records.find(
      (r: { phase: string; event: string }) =>
        r.phase === 'succeeded' && r.event === 'octane.api_access.create',
    );
    expect(issued).toMatchObject({
      actor: { team: 'payments' },
      target: { owner_team: 'platform' },
    });
  });

  it('where several teams use an org, an admin names the team, which must be one of them', async () => {
    const tokens = `/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[1].id}/tokens`;
    const body = { label: 'shared', role_id: CI_ROLE, token_type: 'access' };
    const unnamed = await stack.g
      .http()
      .post(tokens)
      .set(await admin())
      .send(body)
      .expect(403);
    expect(unnamed.body.violations.map((v: { rule: string }) => v.rule)).toContain(
      'scope.owner_team',
    );
    await stack.g
      .http()
      .post(tokens)
      .set(await admin())
      .set('X-Keygate-Team', 'payments')
      .send(body)
      .expect(403);
    await stack.g
      .http()
      .post(tokens)
      .set(await admin())
      .set('X-Keygate-Team', 'ops')
      .send(body)
      .expect(200);
  });

  it('an admin of no listing team still reads and revokes where several teams use an org', async () => {
    const tokens = `/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[1].id}/tokens`;
    const issued = await stack.g
      .http()
      .post(tokens)
      .set(await as('ops'))
      .send({ label: 'leaked', role_id: CI_ROLE, token_type: 'access' })
      .expect(200);
    await stack.g
      .http()
      .get(tokens)
      .set(await admin())
      .expect(200);
    await stack.g
      .http()
      .delete(`${tokens}/${issued.body.response.id}`)
      .set(await admin())
      .expect(200);
  });

  it('a regeneration decided before a revocation cannot bring the key back after it', async () => {
    const alice = await as('payments');
    const key = await create('1001', alice, { name: 'raced', expiration: days(10) }, 201);
    const id = key.body.data[0].id;
    const path = `/octane/api/shared_spaces/1001/api_accesses/${id}`;
    await stack.s.admin.fault({
      op: 'octane.api_accesses.update',
      kind: 'latency',
      latency_ms: 300,
      times: 1,
    });
    const regeneration = stack.g.http().put(path).set(alice).send({ is_valid: true });
    const regenerated = regeneration.then((r) => r.status);
    await until(async () =>
      stack.s.sim.requestCount('octane.api_accesses.update') >= 1 ? true : undefined,
    );
    await stack.g
      .http()
      .put(path)
      .set(await admin())
      .send({ is_valid: false })
      .expect(200);
    expect(await regenerated).toBe(200);
    const state = await stack.s.admin.state();
    expect(state.octane.api_accesses.find((k) => k.id === id)?.is_valid).toBe(false);
  });

  it('an Octane id has one spelling: a leading zero is a 400', async () => {
    const updates = () => stack.s.sim.requestCount('octane.api_accesses.update');
    const before = await updates();
    const res = await stack.g
      .http()
      .put('/octane/api/shared_spaces/1001/api_accesses/01001')
      .set(await admin())
      .send({ is_valid: false })
      .expect(400);
    expect(res.body.error_code).toBe('VALIDATION_FAILED');
    expect(await updates()).toBe(before);
  });

  it('a revoked key comes back only through an admin (octane.reactivation)', async () => {
    const alice = await as('payments');
    const key = await create('1001', alice, { name: 'revived', expiration: days(10) }, 201);
    const path = `/octane/api/shared_spaces/1001/api_accesses/${key.body.data[0].id}`;
    await stack.g.http().put(path).set(alice).send({ is_valid: false }).expect(200);
    const denied = await stack.g.http().put(path).set(alice).send({ is_valid: true }).expect(403);
    expect(Object.keys(denied.body.properties)).toEqual(['octane.reactivation']);
    await stack.g
      .http()
      .put(path)
      .set(await admin())
      .send({ is_valid: true })
      .expect(200);
  });

  it('a regeneration is judged by today’s rules, like a create (the key’s expiration against the cap)', async () => {
    const made = await stack.s.admin.octaneKeyBehindKeygate({
      name: 'oldcap',
      expiration: days(80),
    });
    const denied = await stack.g
      .http()
      .put(`/octane/api/shared_spaces/1001/api_accesses/${made}`)
      .set(await admin())
      .send({ is_valid: true })
      .expect(403);
    expect(Object.keys(denied.body.properties)).toEqual(['octane.max_expiration']);
  });
});

describe('gateway: Keygate’s own vendor credentials are protected', () => {
  const stack = useStack();
  const as = async (roles: string[] = []) => ({
    Authorization: `Bearer ${await stack.g.token({ roles })}`,
  });
  const own = async () => {
    const state = await stack.s.admin.state();
    const [org] = stack.s.options.qwietOrgs;
    const [space] = stack.s.options.octaneSpaces;
    return {
      org: org.id,
      token: state.qwiet.tokens.find(
        (t) => t.seeded && t.label === 'Keygate gateway' && t.org_id === org.id,
      )!.id,
      key: state.octane.api_accesses.find((k) => k.client_id === space.clientId)!.id,
    };
  };

  it('nobody revokes or regenerates them through Keygate (403 PROTECTED_CREDENTIAL, audited)', async () => {
    const { org, token, key } = await own();
    const admin = await as(['keygate:admin']);
    const revoke = await stack.g
      .http()
      .delete(`/qwiet/api/v4/orgs/${org}/tokens/${token}`)
      .set(admin)
      .expect(403);
    expect(revoke.body.code).toBe('PROTECTED_CREDENTIAL');
    for (const body of [{ is_valid: false }, { is_valid: true }]) {
      const res = await stack.g
        .http()
        .put(`/octane/api/shared_spaces/1001/api_accesses/${key}`)
        .set(admin)
        .send(body)
        .expect(403);
      expect(res.body.error_code).toBe('PROTECTED_CREDENTIAL');
      expect(JSON.stringify(res.body)).not.toMatch(/client_secret/);
    }
    const state = await stack.s.admin.state();
    expect(state.qwiet.tokens.find((t) => t.id === token)?.revoked_at).toBeNull();
    const mine = state.octane.api_accesses.find((k) => k.id === key);
    expect(mine).toMatchObject({ is_valid: true, regenerated_at: [] });
    const records = (
      await stack.g
        .http()
        .get('/v1/audit?phase=denied')
        .set(await as(['keygate:auditor']))
    ).body.records;
    expect(
      records.filter((r: { decision: { violations: string[] } }) =>
        r.decision.violations.includes('keygate.protected_credential'),
      ),
    ).toHaveLength(3);
    // Keygate still works: its credentials were never touched.
    await stack.g.http().get(`/qwiet/api/v4/orgs/${org}/roles`).set(admin).expect(200);
  });

  it('only admins see them in lists', async () => {
    const { org, token, key } = await own();
    const ids = (body: { response?: { id: string }[]; data?: { id: string }[] }) =>
      (body.response ?? body.data ?? []).map((e) => e.id);
    const member = await as();
    const admin = await as(['keygate:admin']);
    const qwiet = `/qwiet/api/v4/orgs/${org}/tokens`;
    expect(ids((await stack.g.http().get(qwiet).set(member).expect(200)).body)).not.toContain(
      token,
    );
    expect(ids((await stack.g.http().get(qwiet).set(admin).expect(200)).body)).toContain(token);
    const keys = '/octane/api/shared_spaces/1001/api_accesses';
    const listed = (await stack.g.http().get(keys).set(member).expect(200)).body;
    expect(ids(listed)).not.toContain(key);
    expect(listed.total_count).toBe(listed.data.length);
    expect(ids((await stack.g.http().get(keys).set(admin).expect(200)).body)).toContain(key);
    await stack.g.http().get(`${keys}/${key}`).set(member).expect(404);
  });
});
