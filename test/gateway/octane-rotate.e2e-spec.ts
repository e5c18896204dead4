import { fingerprint } from '@app/audit';
import request from 'supertest';
import { ledgerRecords, storedText } from '../support/db';
import { TEST_AUDIT_KEY, useStack } from '../support/gateway';

const STRONG = '9011@83sd!f1042ds+f19fg86M';

describe('gateway: POST /v1/credentials/octane/{space}/{id}/rotate', () => {
  const stack = useStack();
  const spaceId = () => stack.s.options.octaneSpaces[0].id;
  const space = () => `/octane/api/shared_spaces/${spaceId()}`;
  const rotatePath = (id: string, sid = spaceId()) => `/v1/credentials/octane/${sid}/${id}/rotate`;
  const bearer = async (claims: { team?: string; roles?: string[] } = {}) => ({
    Authorization: `Bearer ${await stack.g.token(claims)}`,
  });
  const createKey = async (name: string): Promise<{ id: string; client_id: string }> => {
    const res = await stack.g
      .http()
      .post(`${space()}/api_accesses?fields=client_id`)
      .set(await bearer())
      .send({ data: [{ name, client_secret: STRONG }] })
      .expect(201);
    return { id: String(res.body.data[0].id), client_id: String(res.body.data[0].client_id) };
  };
  const signIn = (clientId: string, secret: string) =>
    request(stack.s.sim.url)
      .post('/authentication/sign_in')
      .send({ client_id: clientId, client_secret: secret });

  it('regenerates with a secret Keygate generates, shown once, audited as a regeneration', async () => {
    const key = await createKey('rotate-a');
    const res = await stack.g
      .http()
      .post(rotatePath(key.id))
      .set(await bearer())
      .expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-keygate-policy-revision']).toEqual(expect.any(String));
    expect(res.body).toEqual({
      vendor: 'octane',
      shared_space_id: spaceId(),
      id: key.id,
      client_id: key.client_id,
      name: 'rotate-a',
      is_valid: true,
      expiration: null,
      client_secret: expect.any(String),
    });
    const secret = res.body.client_secret as string;
    expect(secret).not.toBe(STRONG);
    expect(secret.length).toBeGreaterThanOrEqual(20);
    expect([/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].every((re) => re.test(secret))).toBe(true);
    // The key takes the new secret, no longer the old one.
    await signIn(key.client_id, secret).expect(200);
    await signIn(key.client_id, STRONG).expect(401);

    const records = (await ledgerRecords(stack.g.db.url)).filter(
      (r) => r.target.credential_id === key.id && r.event === 'octane.api_access.regenerate',
    );
    expect(records.map((r) => r.phase)).toEqual(['attempt', 'succeeded']);
    expect(records[1].fingerprint).toBe(fingerprint(TEST_AUDIT_KEY, secret));
    expect(await storedText(stack.g.db.url)).not.toContain(secret);
  });

  it('is idempotent with an Idempotency-Key: the retry is told it was rotated, without a new secret', async () => {
    const key = await createKey('rotate-b');
    const rotate = async () =>
      stack.g
        .http()
        .post(rotatePath(key.id))
        .set(await bearer())
        .set('Idempotency-Key', `rotate-${key.id}`);
    const first = await rotate();
    expect(first.status).toBe(200);
    const again = await rotate();
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'IDEMPOTENT_REPLAY', credential_id: key.id });
    expect(JSON.stringify(again.body)).not.toContain(first.body.client_secret);
    const state = await stack.s.admin.state();
    expect(state.octane.api_accesses.find((a) => a.id === key.id)?.regenerated_at).toHaveLength(1);
  });

  it('is judged like a regeneration: another team, Keygate’s own key and a revoked key (octane.reactivation) are refused', async () => {
    const key = await createKey('rotate-c');
    const other = await stack.g
      .http()
      .post(rotatePath(key.id))
      .set(await bearer({ team: 'platform' }))
      .expect(403);
    expect(other.body.code).toBe('POLICY_VIOLATION');

    const ownId = (await stack.s.admin.state()).octane.api_accesses.find(
      (a) => a.client_id === stack.s.options.octaneSpaces[0].clientId,
    )?.id as string;
    const own = await stack.g
      .http()
      .post(rotatePath(ownId))
      .set(await bearer({ roles: ['keygate:admin'] }))
      .expect(403);
    expect(own.body.code).toBe('PROTECTED_CREDENTIAL');

    await stack.g
      .http()
      .put(`${space()}/api_accesses/${key.id}`)
      .set(await bearer())
      .send({ is_valid: false })
      .expect(200);
    const revived = await stack.g
      .http()
      .post(rotatePath(key.id))
      .set(await bearer())
      .expect(403);
    expect(revived.body.violations.map((v: { rule: string }) => v.rule)).toContain(
      'octane.reactivation',
    );
    // The reactivation's denial is audited as a regeneration's (another team's is refused at
    // the shared-space scope, before any decision on the key, as a regeneration's is).
    const denied = (await ledgerRecords(stack.g.db.url)).filter(
      (r) => r.target.credential_id === key.id && r.phase === 'denied',
    );
    expect(denied.map((r) => [r.event, r.decision?.violations])).toEqual([
      ['octane.api_access.regenerate', ['octane.reactivation']],
    ]);
  });

  it('a key Keygate revoked that Octane still shows valid (the revocation ignored) is a reactivation too: a member cannot rotate it back into use', async () => {
    const key = await createKey('rotate-ignored');
    await stack.s.admin.fault({
      op: 'octane.api_accesses.update',
      kind: 'revoke_ignored',
      times: 1,
    });
    const revoked = await stack.g
      .http()
      .put(`${space()}/api_accesses/${key.id}`)
      .set(await bearer())
      .send({ is_valid: false })
      .expect(200);
    expect(revoked.headers['x-keygate-revocation']).toBe('unverified');
    const status = async () =>
      (
        await stack.g
          .http()
          .get(`/v1/credentials/octane/${spaceId()}/${key.id}`)
          .set(await bearer())
          .expect(200)
      ).body.credential.status;
    expect(await status()).toBe('revoke_unverified');

    const rotated = await stack.g
      .http()
      .post(rotatePath(key.id))
      .set(await bearer())
      .expect(403);
    expect(rotated.body.violations.map((v: { rule: string }) => v.rule)).toContain(
      'octane.reactivation',
    );
    // A regeneration through the vendor route is the same regeneration.
    const regen = await stack.g
      .http()
      .put(`${space()}/api_accesses/${key.id}`)
      .set(await bearer())
      .send({ is_valid: true, client_secret: `${STRONG}x` })
      .expect(403);
    expect(regen.body.error_code).toBe('POLICY_VIOLATION');
    expect(await status()).toBe('revoke_unverified');
    const state = await stack.s.admin.state();
    expect(state.octane.api_accesses.find((a) => a.id === key.id)?.regenerated_at ?? []).toEqual(
      [],
    );
  });

  it('answers an unknown key 404 NOT_FOUND in Keygate’s envelope', async () => {
    const res = await stack.g
      .http()
      .post(rotatePath('999999'))
      .set(await bearer())
      .expect(404);
    expect(res.body).toMatchObject({ code: 'NOT_FOUND', request_id: expect.any(String) });
    await stack.g
      .http()
      .post(rotatePath('01001'))
      .set(await bearer())
      .expect(400);
  });
});
