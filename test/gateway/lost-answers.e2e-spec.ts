import { CI_ROLE_ID } from '@app/upstream-sim';
import request from 'supertest';
import { useStack } from '../support/gateway';
import { until } from '../support/until';

interface Rec {
  request_id: string;
  caller_request_id?: string;
  phase: string;
  event: string;
  note?: string;
  fingerprint?: string;
  target: { credential_id?: string };
}

describe('gateway: lost answers are settled by proof, never by a guess', () => {
  // The vendor may act up to 2.5 s after the call here (LOST_ANSWER_WINDOW_MS); Keygate gives up
  // on it after 1 s.
  const stack = useStack({ LOST_ANSWER_WINDOW_MS: '2500', UPSTREAM_TIMEOUT_MS: '1000' });
  const org = () => stack.s.options.qwietOrgs[0].id;
  const tokens = () => `/qwiet/api/v4/orgs/${org()}/tokens`;
  const bearer = async (roles: string[] = []) => ({
    Authorization: `Bearer ${await stack.g.token({ roles })}`,
  });
  const records = async (callerId: string): Promise<Rec[]> =>
    (
      await stack.g
        .http()
        .get(`/v1/audit?request_id=${callerId}`)
        .set(await bearer(['keygate:auditor']))
        .expect(200)
    ).body.records.reverse();
  const settled = (callerId: string) =>
    until(async () => {
      const rs = await records(callerId);
      return rs.some((r) => /^lost answer:/.test(r.note ?? '')) ? rs : undefined;
    });
  // No simulator reset between these tests: ids must stay unique for the gateway's records.

  it('does not revoke a token someone else created with the same label when the vendor answers 500', async () => {
    // Created at Qwiet behind Keygate's back, by another team: Keygate never issued it.
    const foreign = await request(stack.s.sim.url)
      .post(`/api/v4/orgs/${org()}/tokens`)
      .set({ Authorization: `Bearer ${stack.s.options.qwietOrgs[0].adminToken}` })
      .send({ label: 'deploy', role_id: CI_ROLE_ID, token_type: 'access' })
      .expect(200);
    await stack.s.admin.fault({ op: 'qwiet.tokens.create', kind: 'status', status: 500, times: 1 });
    await stack.g
      .http()
      .post(tokens())
      .set(await bearer())
      .set('X-Request-Id', 'req-foreign-label')
      .send({ label: 'deploy', role_id: CI_ROLE_ID, token_type: 'access' })
      .expect(500);
    const rs = await settled('req-foreign-label');
    expect(rs.map((r) => r.phase)).toEqual(['attempt', 'failed', 'failed']);
    const state = await stack.s.admin.state();
    expect(
      state.qwiet.tokens.find((t) => t.id === foreign.body.response.id)?.revoked_at,
    ).toBeNull();
  });

  it('finds a token a slow vendor issued after Keygate gave up (504), and revokes it', async () => {
    await stack.s.admin.fault({
      op: 'qwiet.tokens.create',
      kind: 'latency',
      latency_ms: 1_600,
      times: 1,
    });
    await stack.g
      .http()
      .post(tokens())
      .set(await bearer())
      .set('X-Request-Id', 'req-slow-vendor')
      .send({ label: 'slow', role_id: CI_ROLE_ID, token_type: 'access' })
      .expect(504);
    // At the 504 the token does not exist yet: had Keygate concluded "nothing issued" from its
    // absence, the settlement would be failed, and the token left live.
    const rs = await settled('req-slow-vendor');
    expect(rs.map((r) => r.phase)).toEqual(['attempt', 'failed', 'compensated']);
    const issued = (await stack.s.admin.state()).qwiet.tokens.filter((t) => t.label === 'slow');
    expect(issued).toHaveLength(1);
    expect(rs[2].target.credential_id).toBe(issued[0].id);
    expect(issued[0].revoked_at).toEqual(expect.any(String));
  });

  it('does not revoke an Octane key someone else created with the same name when Octane answers 500', async () => {
    const foreign = await stack.s.admin.octaneKeyBehindKeygate({ name: 'twin' });
    await stack.s.admin.fault({
      op: 'octane.api_accesses.create',
      kind: 'status',
      status: 500,
      times: 1,
    });
    await stack.g
      .http()
      .post('/octane/api/shared_spaces/1001/api_accesses')
      .set(await bearer())
      .set('X-Request-Id', 'req-octane-twin')
      .send({ data: [{ name: 'twin' }] })
      .expect(500);
    const rs = await settled('req-octane-twin');
    expect(rs.map((r) => r.phase)).toEqual(['attempt', 'failed', 'failed']);
    const keys = (await stack.s.admin.state()).octane.api_accesses;
    expect(keys.find((k) => k.id === foreign)?.is_valid).toBe(true);
  });

  it('proves a lost Octane create by the secret it sent, and revokes it', async () => {
    await stack.s.admin.fault({
      op: 'octane.api_accesses.create',
      kind: 'lost_answer',
      times: 1,
    });
    await stack.g
      .http()
      .post('/octane/api/shared_spaces/1001/api_accesses')
      .set(await bearer())
      .set('X-Request-Id', 'req-lost-solo')
      .send({ data: [{ name: 'solo' }] })
      .expect(500);
    const rs = await settled('req-lost-solo');
    expect(rs.map((r) => r.phase)).toEqual(['attempt', 'failed', 'compensated']);
    const keys = (await stack.s.admin.state()).octane.api_accesses.filter((k) => k.name === 'solo');
    expect(keys).toHaveLength(1);
    expect(rs[2].target.credential_id).toBe(keys[0].id);
    expect(keys[0].is_valid).toBe(false);
  });

  it.each([
    ['the caller’s', { client_secret: 'Regen@cAller-0123x' }, 'succeeded'],
    ['a generated', {}, 'compensated'],
  ])(
    'settles a lost regeneration with %s secret by trying it at Octane',
    async (_kind, extra, phase) => {
      const created = await stack.g
        .http()
        .post('/octane/api/shared_spaces/1001/api_accesses')
        .set(await bearer())
        .send({ data: [{ name: `regen${phase}` }] })
        .expect(201);
      const id = created.body.data[0].id;
      await stack.s.admin.fault({
        op: 'octane.api_accesses.update',
        kind: 'lost_answer',
        times: 1,
      });
      const callerId = `req-lost-regen-${phase}`;
      await stack.g
        .http()
        .put(`/octane/api/shared_spaces/1001/api_accesses/${id}`)
        .set(await bearer())
        .set('X-Request-Id', callerId)
        .send({ is_valid: true, ...extra })
        .expect(500);
      const rs = await settled(callerId);
      expect(rs.map((r) => r.phase)).toEqual(['attempt', 'failed', phase]);
      // The attempt carries the fingerprint of the secret sent: a leaked copy is found.
      expect(rs[0].fingerprint).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
      const key = (await stack.s.admin.state()).octane.api_accesses.find((k) => k.id === id);
      expect(key?.regenerated_at).toHaveLength(1);
      expect(key?.is_valid).toBe(phase === 'succeeded');
      if ('client_secret' in extra) {
        const found = await stack.g
          .http()
          .post('/v1/audit/fingerprint')
          .set(await bearer(['keygate:auditor']))
          .send({ secret: extra.client_secret })
          .expect(200);
        expect(found.body.records.map((r: Rec) => r.phase).sort()).toEqual([
          'attempt',
          'succeeded',
        ]);
      }
    },
  );

  it('links records by Keygate’s own request id, never the caller’s', async () => {
    await Promise.all(
      [1, 2, 3].map(async () =>
        stack.g
          .http()
          .post(tokens())
          .set(await bearer())
          .set('X-Request-Id', 'req-shared-by-three')
          .send({ label: 'same', role_id: CI_ROLE_ID, token_type: 'access' })
          .expect(200),
      ),
    );
    const rs = await records('req-shared-by-three');
    expect(rs).toHaveLength(6);
    const ids = new Set(rs.map((r) => r.request_id));
    expect(ids.size).toBe(3);
    for (const id of ids) {
      expect(rs.filter((r) => r.request_id === id).map((r) => r.phase)).toEqual([
        'attempt',
        'succeeded',
      ]);
    }
    expect(rs.every((r) => r.caller_request_id === 'req-shared-by-three')).toBe(true);
  });
});
