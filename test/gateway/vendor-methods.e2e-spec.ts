import { useStack } from '../support/gateway';

describe('gateway: methods a vendor path does not serve', () => {
  const stack = useStack();
  const bearer = async () => ({ Authorization: `Bearer ${await stack.g.token()}` });

  it.each([
    ['delete', '/octane/api/shared_spaces/1001/api_accesses/5', 'GET, HEAD, PUT'],
    ['post', '/octane/api/shared_spaces/1001/api_accesses/5', 'GET, HEAD, PUT'],
    ['put', '/octane/api/shared_spaces/1001/roles', 'GET, HEAD'],
    ['get', '/octane/authentication/sign_in', 'POST'],
  ] as const)(
    'Octane: %s %s is 405 with Allow, in the Octane envelope',
    async (method, path, allow) => {
      const http = stack.g.http();
      const res = await http[method](path)
        .set(await bearer())
        .expect(405);
      expect(res.headers.allow).toBe(allow);
      expect(res.body).toMatchObject({
        error_code: 'METHOD_NOT_ALLOWED',
        correlation_id: res.headers['x-request-id'],
        properties: null,
      });
    },
  );

  it.each([
    ['patch', 'tokens', 'GET, HEAD, POST'],
    ['put', 'tokens', 'GET, HEAD, POST'],
    ['post', 'roles', 'GET, HEAD'],
    ['get', 'tokens/3f1b5f0e-9c1d-4c7e-8a51-1c1d2e3f4a5b', 'DELETE'],
  ] as const)(
    'Qwiet: %s .../%s is 405 with Allow, in the Qwiet envelope',
    async (method, tail, allow) => {
      const org = stack.s.options.qwietOrgs[0].id;
      const http = stack.g.http();
      const res = await http[method](`/qwiet/api/v4/orgs/${org}/${tail}`)
        .set(await bearer())
        .expect(405);
      expect(res.headers.allow).toBe(allow);
      expect(res.body).toEqual({
        ok: false,
        code: 'METHOD_NOT_ALLOWED',
        message: expect.any(String),
      });
    },
  );

  it('still answers unknown paths 404, and needs a JWT before saying 405', async () => {
    const auth = await bearer();
    // HEAD is served wherever GET is, as Allow says.
    await stack.g
      .http()
      .head(`/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/roles`)
      .set(auth)
      .expect(200);
    await stack.g.http().delete('/octane/api/shared_spaces/1001/nothing/5').set(auth).expect(404);
    await stack.g.http().patch('/qwiet/api/v4/orgs/x/nothing').set(auth).expect(404);
    const anonymous = await stack.g
      .http()
      .delete('/octane/api/shared_spaces/1001/api_accesses/5')
      .expect(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    expect(Object.keys(await stack.s.admin.state().then((st) => st.requests))).not.toContain(
      'octane.api_accesses.delete',
    );
  });
});
