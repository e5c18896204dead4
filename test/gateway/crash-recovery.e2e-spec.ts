import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRecords, verifyAuditLog } from '@app/audit';
import { CI_ROLE_ID } from '@app/upstream-sim';
import request from 'supertest';
import { mintDevToken } from '@app/auth';
import {
  gatewayEnv,
  startSimulator,
  StartedSimulator,
  TEST_AUDIT_KEY,
  TEST_JWT_SECRET,
} from '../support/gateway';
import { freePort, spawnTs } from '../support/processes';

/** What it takes to run the gateway as its own process in front of `s`: env, URL, a caller's bearer. */
async function gatewayProcess(s: StartedSimulator) {
  const auditDir = mkdtempSync(join(tmpdir(), 'keygate-process-'));
  const port = await freePort();
  const env = {
    ...gatewayEnv(s),
    AUDIT_DIR: auditDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
  };
  const token = await mintDevToken(TEST_JWT_SECRET, { subject: 'ci', team: 'payments' });
  return {
    auditDir,
    env,
    url: `http://127.0.0.1:${port}`,
    bearer: { Authorization: `Bearer ${token}` },
  };
}

describe('gateway: SIGKILL in the middle of concurrent issuances', () => {
  let s: StartedSimulator;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await s.sim.close();
  });

  it('restarts to a log that verifies, with an outcome for every credential the vendor issued', async () => {
    const { auditDir, env, url, bearer } = await gatewayProcess(s);
    const orgId = s.options.qwietOrgs[0].id;

    child = await spawnTs('apps/gateway/src/main.ts', env, 'Keygate listening on');
    await request(url)
      .post(`/qwiet/api/v4/orgs/${orgId}/tokens`)
      .set(bearer)
      .send({ label: 'before-crash', role_id: CI_ROLE_ID })
      .expect(200);

    // Slow Qwiet down so that issuances are in flight (attempt written, vendor working) when the process dies.
    await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'latency', latency_ms: 400 });
    // One X-Request-Id and one label for all of them, as a careless (or hostile) client sends.
    const inFlight = Array.from({ length: 12 }, () =>
      request(url)
        .post(`/qwiet/api/v4/orgs/${orgId}/tokens`)
        .set(bearer)
        .set('X-Request-Id', 'one-id-for-all')
        .send({ label: 'crash', role_id: CI_ROLE_ID })
        .then(
          (r) => r.status,
          () => 'killed',
        ),
    );
    await new Promise<void>((resolve) => {
      const poll = () =>
        s.sim.requestCount('qwiet.tokens.create') >= 13 ? resolve() : setImmediate(poll);
      poll();
    });
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(await Promise.all(inFlight)).toEqual(Array(12).fill('killed'));
    // The simulator still finishes the creates the dead gateway asked for.
    await new Promise<void>((resolve) => {
      const poll = async () =>
        (await s.admin.state()).qwiet.tokens.filter((t) => !t.seeded).length >= 13
          ? resolve()
          : setImmediate(() => void poll());
      void poll();
    });
    await request(s.sim.url).delete('/__sim/faults').expect(200);

    child = await spawnTs('apps/gateway/src/main.ts', env, 'Keygate listening on');
    child.kill('SIGTERM');
    await once(child, 'exit');
    child = undefined;

    expect(verifyAuditLog(auditDir, TEST_AUDIT_KEY)).toMatchObject({ ok: true, head: 'matches' });
    const records = readRecords(auditDir);
    const attempts = records.filter((r) => r.phase === 'attempt');
    const outcomes = new Map(
      records.filter((r) => r.phase !== 'attempt').map((r) => [r.request_id, r]),
    );
    expect(attempts).toHaveLength(13);
    for (const attempt of attempts) expect(outcomes.get(attempt.request_id)).toBeDefined();

    const state = await s.admin.state();
    const issued = state.qwiet.tokens.filter((t) => !t.seeded);
    expect(issued).toHaveLength(13);
    for (const token of issued) {
      const outcome = records.find(
        (r) => r.target.credential_id === token.id && r.phase !== 'attempt',
      );
      expect(outcome?.phase).toMatch(/^(succeeded|compensated)$/);
      // What a crash left unrecorded was never handed out: it must be revoked at the vendor.
      if (outcome?.phase === 'compensated') expect(token.revoked_at).toEqual(expect.any(String));
    }
    expect(
      records
        .filter((r) => r.phase === 'compensated')
        .every((r) => r.note?.startsWith('crash recovery')),
    ).toBe(true);
    expect(records.filter((r) => r.phase === 'compensated')).toHaveLength(12);
  }, 60_000);
});

describe('gateway: SIGTERM under load', () => {
  let s: StartedSimulator;
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(() => s.sim.close());

  it('finishes the requests in flight, records their outcomes, and leaves a log that verifies', async () => {
    const { auditDir, env, url, bearer } = await gatewayProcess(s);
    const child = await spawnTs('apps/gateway/src/main.ts', env, 'Keygate listening on');
    const exited = once(child, 'exit');
    await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'latency', latency_ms: 300 });
    const inFlight = Array.from({ length: 8 }, (_, i) =>
      request(url)
        .post(`/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/tokens`)
        .set(bearer)
        .send({ label: `term-${i}`, role_id: CI_ROLE_ID })
        .then(
          (r) => r.status,
          () => 'dropped',
        ),
    );
    await new Promise<void>((resolve) => {
      const poll = () =>
        s.sim.requestCount('qwiet.tokens.create') >= 8 ? resolve() : setImmediate(poll);
      poll();
    });
    child.kill('SIGTERM');
    expect(await Promise.all(inFlight)).toEqual(Array(8).fill(200));
    await exited;
    const records = readRecords(auditDir);
    const issuances = records.filter((r) => r.event === 'qwiet.token.issue');
    expect(issuances.filter((r) => r.phase === 'succeeded')).toHaveLength(8);
    expect(issuances).toHaveLength(16);
    expect(verifyAuditLog(auditDir, TEST_AUDIT_KEY)).toMatchObject({
      ok: true,
      records: records.length,
    });
    await request(s.sim.url).delete('/__sim/faults').expect(200);
  }, 60_000);
});
