import { Octane } from '@microfocus/alm-octane-js-rest-sdk';
import { useStack } from '../support/gateway';

/**
 * Drop-in means drop-in: OpenText's own Octane SDK, pointed at Keygate (`<keygate>/octane`, the
 * company JWT as a header), works unchanged. Keygate holds the Octane credential, so the SDK's
 * sign-in succeeds without reaching Octane and without any secret of the caller's.
 */
// The SDK logs at debug level through log4js on import; keep the test output readable.
// eslint-disable-next-line @typescript-eslint/no-require-imports
require(
  require.resolve('log4js', { paths: [require.resolve('@microfocus/alm-octane-js-rest-sdk')] }),
).configure({
  appenders: { out: { type: 'stdout' } },
  categories: { default: { appenders: ['out'], level: 'off' } },
});

describe('gateway: the official @microfocus/alm-octane-js-rest-sdk against Keygate', () => {
  const stack = useStack();
  const space = '/api/shared_spaces/1001';
  const ops = Octane.operationTypes;
  /** What the SDK sends as user and password: Keygate must neither need nor log them. */
  const IGNORED_SECRET = 'not-a-real-secret-Zq7#kL2!pW9';
  const sdk = (jwt: string) =>
    new Octane({
      server: `${stack.g.url}/octane`,
      sharedSpace: 1001,
      workspace: 1002,
      user: 'someone',
      password: IGNORED_SECRET,
      headers: { Authorization: `Bearer ${jwt}` },
    });

  it('signs in and out through Keygate without calling Octane, and needs a valid JWT', async () => {
    const octane = sdk(await stack.g.token({ team: 'payments', sub: 'alice' }));
    const count = () =>
      stack.s.sim.requestCount('octane.sign_in') + stack.s.sim.requestCount('octane.sign_out');
    await octane.executeCustomRequest(`${space}/roles?fields=name`, ops.get);
    const before = count();
    await octane.authenticate();
    await octane.executeCustomRequest(`${space}/roles?fields=name`, ops.get);
    await octane.signOut();
    expect(count()).toBe(before);

    const refused = await sdk('not.a.jwt')
      .authenticate()
      .catch(
        (e: { response?: { status: number; data: unknown; headers: Record<string, string> } }) => e,
      );
    expect(refused.response?.status).toBe(401);
    expect(refused.response?.data).toMatchObject({ error_code: 'UNAUTHENTICATED' });
    expect(stack.g.logs.text()).not.toContain(IGNORED_SECRET);
  });

  it('lists roles, and creates, reads and revokes an api_access, unchanged', async () => {
    const octane = sdk(await stack.g.token({ team: 'payments', sub: 'alice' }));
    await octane.authenticate();
    const roles = await octane.executeCustomRequest(
      `${space}/roles?fields=name,logical_name`,
      ops.get,
    );
    expect(roles.total_count).toBeGreaterThan(0);
    expect(roles.data[0]).toMatchObject({ type: 'role', name: expect.any(String) });

    const created = await octane.executeCustomRequest(
      `${space}/api_accesses?fields=client_id`,
      ops.create,
      {
        data: [
          {
            name: 'sdkViaKeygate',
            client_secret: '9011@83sd!f1042ds+f19fg86M',
            workspace_roles: { data: [{ type: 'workspace_role', id: '1028' }] },
          },
        ],
      },
    );
    expect(created.total_count).toBe(1);
    const { id, client_id: clientId } = created.data[0];
    expect(clientId).toMatch(/^sdkViaKeygate_[0-9a-z]{25}$/);

    const read = await octane.executeCustomRequest(
      `${space}/api_accesses/${id}?fields=name,client_id`,
      ops.get,
    );
    expect(read).toMatchObject({ id, name: 'sdkViaKeygate', client_id: clientId, is_valid: true });

    const revoked = await octane.executeCustomRequest(`${space}/api_accesses/${id}`, ops.update, {
      is_valid: false,
    });
    expect(revoked.is_valid).toBe(false);
    const state = (await stack.s.admin.state()).octane.api_accesses.find((a) => a.id === id);
    expect(state).toMatchObject({ name: 'sdkViaKeygate' });
    // Keygate signed in to Octane with its own key; the SDK's user and password went nowhere.
    expect(JSON.stringify(await stack.s.admin.state())).not.toContain(IGNORED_SECRET);
    expect(stack.g.logs.text()).not.toContain(IGNORED_SECRET);
  });

  it('surfaces a policy denial to the SDK caller in the Octane envelope', async () => {
    const octane = sdk(await stack.g.token({ team: 'payments', sub: 'alice' }));
    const error = await octane
      .executeCustomRequest('/api/shared_spaces/2001/roles', ops.get)
      .catch((e: { response?: { status: number; data: unknown } }) => e);
    expect(error.response?.status).toBe(403);
    expect(error.response?.data).toMatchObject({ error_code: 'POLICY_VIOLATION' });
  });
});
