import { CI_ROLE_ID } from '@app/upstream-sim';
import { useStack } from '../support/gateway';

describe('gateway: the vendor timeout bounds each call, time queued for a socket included', () => {
  const stack = useStack({ UPSTREAM_TIMEOUT_MS: '500', UPSTREAM_MAX_SOCKETS: '2' });

  it('answers 12 concurrent creates to a hanging Qwiet with 504 UPSTREAM_TIMEOUT, each within the timeout', async () => {
    const bearer = { Authorization: `Bearer ${await stack.g.token()}` };
    await stack.s.admin.fault({ op: 'qwiet.tokens.create', kind: 'hang', times: 12 });
    const path = `/qwiet/api/v4/orgs/${stack.s.options.qwietOrgs[0].id}/tokens`;
    const answers = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const started = performance.now();
        const res = await stack.g
          .http()
          .post(path)
          .set(bearer)
          .send({ label: `hang-${i}`, role_id: CI_ROLE_ID });
        return { status: res.status, code: res.body.code, ms: performance.now() - started };
      }),
    );
    expect(answers.map((a) => [a.status, a.code])).toEqual(
      Array.from({ length: 12 }, () => [504, 'UPSTREAM_TIMEOUT']),
    );
    // Before: 2 sockets, so the last pair waited 6 x 500 ms. Generous margin for a shared machine.
    expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(2_000);
  });
});
