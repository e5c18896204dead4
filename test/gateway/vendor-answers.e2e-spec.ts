import { QWIET_CI_ROLE_ID } from '@app/common';
import { useStack } from '../support/gateway';

/**
 * The vendor routes answer through one interceptor (common/vendor-reply.ts): the vendor's status
 * and body, and on decided changes the policy revision and `Cache-Control: no-store`; reads carry
 * neither.
 */
describe('gateway: vendor answers, as the vendor gave them', () => {
  const stack = useStack();
  const bearer = async (roles?: string[]) => ({
    Authorization: `Bearer ${await stack.g.token({ roles })}`,
  });
  const org = () => stack.s.options.qwietOrgs[0].id;
  const revision = async () =>
    (
      await stack.g
        .http()
        .get('/v1/policy')
        .set(await bearer())
        .expect(200)
    ).body.revision;

  it('reads: the vendor status and body, no policy headers, cacheable as the vendor says', async () => {
    for (const path of [
      `/qwiet/api/v4/orgs/${org()}/roles`,
      `/qwiet/api/v4/orgs/${org()}/tokens`,
      '/octane/api/shared_spaces/1001/roles',
      '/octane/api/shared_spaces/1001/api_accesses',
    ]) {
      const res = await stack.g
        .http()
        .get(path)
        .set(await bearer())
        .expect(200);
      expect(res.headers['x-keygate-policy-revision']).toBeUndefined();
      expect(res.headers['cache-control']).toBeUndefined();
      expect(res.body).toEqual(expect.any(Object));
    }
  });

  it("Qwiet's create answers 200 (not a POST's 201), with the revision and no-store", async () => {
    const res = await stack.g
      .http()
      .post(`/qwiet/api/v4/orgs/${org()}/tokens`)
      .set(await bearer())
      .send({ label: 'answer', role_id: QWIET_CI_ROLE_ID, valid_for_seconds: 600 })
      .expect(200);
    expect(res.body).toMatchObject({ ok: true, response: { value: expect.any(String) } });
    expect(res.headers['x-keygate-policy-revision']).toBe(await revision());
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-keygate-policy-warnings']).toBeUndefined();
  });

  it("Octane's create answers 201, with the revision and no-store", async () => {
    const res = await stack.g
      .http()
      .post('/octane/api/shared_spaces/1001/api_accesses')
      .set(await bearer())
      .send({
        data: [{ name: 'answer', expiration: new Date(Date.now() + 86400_000).toISOString() }],
      })
      .expect(201);
    expect(res.body.data[0]).toMatchObject({ name: 'answer', client_secret: expect.any(String) });
    expect(res.headers['x-keygate-policy-revision']).toBe(await revision());
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it("a decided change the vendor refuses: the vendor's status and envelope, still no-store", async () => {
    const res = await stack.g
      .http()
      .delete(`/qwiet/api/v4/orgs/${org()}/tokens/3f1b5f0e-9c1d-4c7e-8a51-1c1d2e3f4a5b`)
      .set(await bearer(['keygate:admin']))
      .expect(404);
    expect(res.body).toMatchObject({ ok: false, code: 'NOT_FOUND' });
    expect(res.headers['x-keygate-policy-revision']).toBe(await revision());
    expect(res.headers['cache-control']).toBe('no-store');
  });
});
