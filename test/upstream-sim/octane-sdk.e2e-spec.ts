import { Octane, Query } from '@microfocus/alm-octane-js-rest-sdk';
import { startSimulator, StartedSimulator } from '../support/simulator';

/**
 * OpenText's own JavaScript SDK, which nobody here wrote, drives the simulator: if the simulator
 * drifts from what real Octane clients expect (cookies, query syntax, envelopes, 401 handling),
 * this suite breaks.
 */
// The SDK logs at debug level through log4js on import; keep the test output readable.
// eslint-disable-next-line @typescript-eslint/no-require-imports
require(
  require.resolve('log4js', { paths: [require.resolve('@microfocus/alm-octane-js-rest-sdk')] }),
).configure({
  appenders: { out: { type: 'stdout' } },
  categories: { default: { appenders: ['out'], level: 'off' } },
});

describe('upstream-sim: the official @microfocus/alm-octane-js-rest-sdk against the simulator', () => {
  let s: StartedSimulator;
  let octane: Octane;
  const space = '/api/shared_spaces/1001';
  const ops = Octane.operationTypes;
  /** The SDK's own URL convention for `query`: the encoded phrase inside literal double quotes. */
  const withQuery = (path: string, query: Query) =>
    `${path}&query="${encodeURIComponent(query.build())}"`;

  beforeAll(async () => {
    s = await startSimulator({ requireTechPreview: true });
    const { clientId, clientSecret } = s.options.octaneSpaces[0];
    octane = new Octane({
      server: s.sim.url,
      sharedSpace: 1001,
      workspace: 1002,
      user: clientId,
      password: clientSecret,
      headers: { ALM_OCTANE_TECH_PREVIEW: true },
    });
    await octane.authenticate();
  });
  afterAll(async () => {
    await octane.signOut();
    await s.sim.close();
  });

  it('queries workspace_roles with the SDK query builder', async () => {
    const byRoleAndWorkspace = Query.field('role')
      .equal(Query.field('id').equal(1007))
      .and(Query.field('workspace').equal(Query.field('id').equal(1003)));
    const res = await octane.executeCustomRequest(
      withQuery(`${space}/workspace_roles?fields=role`, byRoleAndWorkspace),
      ops.get,
    );
    expect(res.total_count).toBe(1);
    expect(res.data[0]).toMatchObject({
      type: 'workspace_role',
      id: '1037',
      role: { logical_name: 'role.workspace.admin' },
    });

    const spaceAdmin = Query.field('role').equal(
      Query.field('logical_name').equal('role.shared.space.admin'),
    );
    const admin = await octane.executeCustomRequest(
      withQuery(`${space}/workspace_roles?fields=role`, spaceAdmin),
      ops.get,
    );
    expect(admin.data.map((e: { id: string }) => e.id)).toEqual(['1009']);

    const notWorkspace = Query.field('workspace')
      .notEqual(Query.field('id').equal(1002))
      .and(Query.field('id').inComparison([1009, 1034, 1027]));
    const some = await octane.executeCustomRequest(
      withQuery(`${space}/workspace_roles?fields=id`, notWorkspace),
      ops.get,
    );
    expect(some.data.map((e: { id: string }) => e.id)).toEqual(['1009', '1034']);
  });

  it('creates, reads, revokes and regenerates an api_access', async () => {
    const created = await octane.executeCustomRequest(
      `${space}/api_accesses?fields=client_id`,
      ops.create,
      {
        data: [
          {
            name: 'sdkKey',
            client_secret: '9011@83sd!f1042ds+f19fg86M',
            workspace_roles: { data: [{ type: 'workspace_role', id: '1028' }] },
          },
        ],
      },
    );
    expect(created.total_count).toBe(1);
    const { id, client_id: clientId } = created.data[0];
    expect(clientId).toMatch(/^sdkKey_[0-9a-z]{25}$/);

    const read = await octane.executeCustomRequest(
      `${space}/api_accesses/${id}?fields=name,client_id,workspace_roles`,
      ops.get,
    );
    expect(read).toMatchObject({
      id,
      name: 'sdkKey',
      client_id: clientId,
      is_valid: true,
      workspace_roles: { total_count: 1 },
    });

    const revoked = await octane.executeCustomRequest(`${space}/api_accesses/${id}`, ops.update, {
      is_valid: false,
    });
    expect(revoked.is_valid).toBe(false);

    const regenerated = await octane.executeCustomRequest(
      `${space}/api_accesses/${id}?fields=client_id`,
      ops.update,
      {
        is_valid: true,
        client_secret: 'kj@s$dfS124GDd35',
      },
    );
    expect(regenerated).toEqual({ type: 'api_access', id, client_id: clientId, is_valid: true });

    // The regenerated key signs in through the SDK too.
    const asKey = new Octane({
      server: s.sim.url,
      sharedSpace: 1001,
      workspace: 1002,
      user: clientId,
      password: 'kj@s$dfS124GDd35',
    });
    await asKey.authenticate();
    const roles = await asKey.executeCustomRequest(`${space}/roles?fields=name&limit=1`, ops.get);
    expect(roles.data).toHaveLength(1);
  });

  it('survives a forced session expiry: one re-sign-in, then the request succeeds', async () => {
    const before = (await s.admin.state()).octane.sign_ins;
    await s.admin.expireOctaneSessions();
    const res = await octane.executeCustomRequest(`${space}/roles?fields=name`, ops.get);
    expect(res.total_count).toBeGreaterThan(0);
    expect((await s.admin.state()).octane.sign_ins).toBe(before + 1);
  });

  it('surfaces Octane error envelopes to the SDK caller', async () => {
    const error = await octane
      .executeCustomRequest(`${space}/api_accesses`, ops.create, {
        data: [{ name: 'weak', client_secret: 'weak' }],
      })
      .catch((e: { response?: { status: number; data: unknown } }) => e);
    expect(error.response?.status).toBe(400);
    expect(error.response?.data).toMatchObject({
      errors: [{ error_code: 'platform.api_access_invalid_secret', index: 0 }],
    });
  });
});
