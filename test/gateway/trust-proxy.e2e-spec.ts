import { randomUUID } from 'node:crypto';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { ledgerRecords } from '../support/db';
import { startGateway, startSimulator, StartedSimulator } from '../support/gateway';

/** The caller address the audit log records for one issuance sent with these forwarding headers. */
async function auditedIp(
  s: StartedSimulator,
  env: NodeJS.ProcessEnv,
  forwardedFor?: string,
): Promise<string | undefined> {
  const g = await startGateway(s, env);
  const requestId = `req-${randomUUID()}`;
  try {
    const req = g
      .http()
      .post(`/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/tokens`)
      .set({ Authorization: `Bearer ${await g.token()}`, 'X-Request-Id': requestId });
    if (forwardedFor !== undefined) req.set('X-Forwarded-For', forwardedFor);
    await req.send({ label: 'proxied', role_id: CI_ROLE_ID }).expect(200);
  } finally {
    await g.close();
  }
  // The file's gateways share its database: this request's records.
  const records = (await ledgerRecords(g.db.url)).filter((r) => r.caller_request_id === requestId);
  expect(records.map((r) => r.phase)).toEqual(['attempt', 'succeeded']);
  return records[0].actor.ip;
}

describe('gateway: TRUST_PROXY decides whose X-Forwarded-For the audit believes', () => {
  let s: StartedSimulator;
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(() => s.sim.close());

  it('records the forwarded client address when the hop that sent it is trusted', async () => {
    expect(await auditedIp(s, { TRUST_PROXY: '127.0.0.1' }, '203.0.113.9')).toBe('203.0.113.9');
    expect(await auditedIp(s, { TRUST_PROXY: '127.0.0.0/8, 10.0.0.0/8' }, '203.0.113.9')).toBe(
      '203.0.113.9',
    );
    expect(await auditedIp(s, { TRUST_PROXY: '1' }, '203.0.113.9')).toBe('203.0.113.9');
  });

  it('ignores X-Forwarded-For by default: the address of the connection', async () => {
    expect(await auditedIp(s, {}, '203.0.113.9')).toBe('127.0.0.1');
  });

  it('ignores a forged entry from a hop it does not trust', async () => {
    // The connection comes from 127.0.0.1, which is not in the list: its header is not believed.
    expect(await auditedIp(s, { TRUST_PROXY: '10.0.0.0/8' }, '203.0.113.9')).toBe('127.0.0.1');
    // The trusted proxy appended the address it saw; the client's own (forged) entry is left of it.
    expect(await auditedIp(s, { TRUST_PROXY: '127.0.0.1' }, '203.0.113.9, 198.51.100.7')).toBe(
      '198.51.100.7',
    );
  });

  it('refuses a TRUST_PROXY it cannot read, naming it', async () => {
    const started = startGateway(s, { TRUST_PROXY: 'everyone' });
    // Closed should it start after all, so a failure here cannot leave a server running.
    started.then((g) => g.close()).catch(() => undefined);
    await expect(started).rejects.toThrow(/TRUST_PROXY/);
  });
});
