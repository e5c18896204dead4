import { CI_ROLE_ID, JIRA_ROLE_ID } from '@app/upstream-sim';
import { errorSchemaErrors, successSchemaErrors } from '../contract/qwiet-openapi';
import { startSimulator, StartedSimulator } from '../support/simulator';

describe("upstream-sim: Qwiet responses validate against Qwiet's OpenAPI", () => {
  let s: StartedSimulator;
  let orgId: string;
  let auth: { Authorization: string };

  beforeAll(async () => {
    s = await startSimulator();
    orgId = s.options.qwietOrgs[0].id;
    auth = { Authorization: `Bearer ${s.options.qwietOrgs[0].adminToken}` };
  });
  afterAll(() => s.sim.close());

  it('the validator itself rejects a body that breaks the schema', () => {
    expect(
      successSchemaErrors(['/orgs/{orgID}/tokens', 'post'], { ok: true, response: { id: 'x' } }),
    ).not.toEqual([]);
    expect(errorSchemaErrors({ ok: false, message: 'no code' })).not.toEqual([]);
  });

  it('ListRoles', async () => {
    const res = await s.http().get(`/api/v4/orgs/${orgId}/roles`).set(auth).expect(200);
    expect(successSchemaErrors(['/orgs/{orgID}/roles', 'get'], res.body)).toEqual([]);
  });

  it('CreateToken (integration with lifetime, access without) and ListTokens', async () => {
    for (const body of [
      {
        label: 'On-prem Jira',
        description: 'Jira',
        role_id: JIRA_ROLE_ID,
        token_type: 'integration',
        valid_for_seconds: 600,
      },
      { label: 'ci', role_id: CI_ROLE_ID, token_type: 'access' },
    ]) {
      const res = await s
        .http()
        .post(`/api/v4/orgs/${orgId}/tokens`)
        .set(auth)
        .send(body)
        .expect(200);
      expect(successSchemaErrors(['/orgs/{orgID}/tokens', 'post'], res.body)).toEqual([]);
    }
    for (const query of ['', '?show_expired=true', '?token_type=access']) {
      const res = await s.http().get(`/api/v4/orgs/${orgId}/tokens${query}`).set(auth).expect(200);
      expect(res.body.response.length).toBeGreaterThan(0);
      expect(successSchemaErrors(['/orgs/{orgID}/tokens', 'get'], res.body)).toEqual([]);
    }
  });

  it('DeleteToken', async () => {
    const created = await s
      .http()
      .post(`/api/v4/orgs/${orgId}/tokens`)
      .set(auth)
      .send({ label: 'x', role_id: CI_ROLE_ID })
      .expect(200);
    const res = await s
      .http()
      .delete(`/api/v4/orgs/${orgId}/tokens/${created.body.response.id}`)
      .set(auth)
      .expect(200);
    expect(successSchemaErrors(['/orgs/{orgID}/tokens/{tokenID}', 'delete'], res.body)).toEqual([]);
  });

  it('every error answer uses the Error schema', async () => {
    const tokens = `/api/v4/orgs/${orgId}/tokens`;
    const answers = await Promise.all([
      s.http().get(`/api/v4/orgs/${orgId}/roles`),
      s.http().get(tokens).set({ Authorization: 'Bearer nope' }),
      s.http().post(tokens).set(auth).send({ label: 1 }),
      s.http().get(`${tokens}?token_type=x`).set(auth),
      s.http().delete(`${tokens}/00000000-0000-4000-8000-000000000000`).set(auth),
      s.http().get(`${tokens}/00000000-0000-4000-8000-000000000000`).set(auth),
      s.http().get('/api/v4/orgs/nope/unknown').set(auth),
    ]);
    expect(answers.map((a) => a.status)).toEqual([401, 401, 400, 400, 404, 405, 404]);
    for (const answer of answers) expect(errorSchemaErrors(answer.body)).toEqual([]);
  });
});
