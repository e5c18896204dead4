import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AuditRecord } from '@app/audit';
import { CI_ROLE_ID } from '@app/upstream-sim';
import request from 'supertest';
import { mintDevToken } from '@app/auth';
import { Client } from 'pg';
import { ledgerRecords, verifyStored } from '../support/db';
import {
  gatewayEnv,
  startSimulator,
  StartedSimulator,
  TEST_AUDIT_KEY,
  TEST_JWT_SECRET,
  useFileDatabase,
} from '../support/gateway';
import { freePort, spawnTs } from '../support/processes';
import { until } from '../support/until';

/**
 * What it takes to run the gateway as its own process in front of `s`: env (DATABASE_URL: the
 * file's database, shared by every process of this file, one chain), URL, a caller's bearer.
 */
async function gatewayProcess(s: StartedSimulator) {
  const db = await useFileDatabase();
  const port = await freePort();
  const env = {
    ...gatewayEnv(s),
    DATABASE_URL: db.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    // The creates below are held 2 s at the vendor; a loaded machine must not time them out.
    UPSTREAM_TIMEOUT_MS: '10000',
  };
  const token = await mintDevToken(TEST_JWT_SECRET, { subject: 'ci', team: 'payments' });
  return {
    db,
    env,
    url: `http://127.0.0.1:${port}`,
    bearer: { Authorization: `Bearer ${token}` },
  };
}

/** The records of the issuances with one of these labels (the file's tests share its ledger). */
async function labelled(url: string, ...labels: string[]): Promise<AuditRecord[]> {
  return (await ledgerRecords(url)).filter(
    (r) => r.target.label !== undefined && labels.some((l) => r.target.label!.startsWith(l)),
  );
}

/** How many tokens the simulator holds that it was not seeded with. */
const unseeded = (state: { qwiet: { tokens: { seeded?: boolean }[] } }) =>
  state.qwiet.tokens.filter((t) => !t.seeded).length;

/** Inventory rows of the database at `url`: credential id -> status. */
async function inventory(url: string): Promise<Map<string, string>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ credential_id: string; status: string }>(
      'SELECT credential_id, status FROM credentials',
    );
    return new Map(rows.map((r) => [r.credential_id.toLowerCase(), r.status]));
  } finally {
    await client.end();
  }
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

  it('restarts to a ledger that verifies, with an outcome for every credential the vendor issued', async () => {
    const { db, env, url, bearer } = await gatewayProcess(s);
    const orgId = s.options.qwietOrgs[0].id;

    child = await spawnTs('apps/gateway/src/main.ts', env, 'Keygate listening on');
    await request(url)
      .post(`/qwiet/api/v4/orgs/${orgId}/tokens`)
      .set(bearer)
      .send({ label: 'before-crash', role_id: CI_ROLE_ID })
      .expect(200);

    // Slow Qwiet down so that issuances are in flight (attempt written, vendor working) when the process dies.
    await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'latency', latency_ms: 2_000 });
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
    await until(async () => s.sim.requestCount('qwiet.tokens.create') >= 13 || undefined);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(await Promise.all(inFlight)).toEqual(Array(12).fill('killed'));
    // The simulator still finishes the creates the dead gateway asked for.
    await until(async () => unseeded(await s.admin.state()) >= 13 || undefined);
    await request(s.sim.url).delete('/__sim/faults').expect(200);

    child = await spawnTs('apps/gateway/src/main.ts', env, 'Keygate listening on');
    child.kill('SIGTERM');
    await once(child, 'exit');
    child = undefined;

    expect(await verifyStored(db.url, TEST_AUDIT_KEY)).toMatchObject({ ok: true, head: 'matches' });
    const records = await labelled(db.url, 'before-crash', 'crash');
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

  it('finishes the requests in flight, records their outcomes, and leaves a ledger that verifies', async () => {
    const { db, env, url, bearer } = await gatewayProcess(s);
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
    await until(async () => s.sim.requestCount('qwiet.tokens.create') >= 8 || undefined);
    child.kill('SIGTERM');
    expect(await Promise.all(inFlight)).toEqual(Array(8).fill(200));
    await exited;
    const issuances = await labelled(db.url, 'term-');
    expect(issuances.filter((r) => r.phase === 'succeeded')).toHaveLength(8);
    expect(issuances).toHaveLength(16);
    expect(await verifyStored(db.url, TEST_AUDIT_KEY)).toMatchObject({ ok: true });
    await request(s.sim.url).delete('/__sim/faults').expect(200);
  }, 60_000);
});

describe('gateway: two processes on one database, one SIGKILLed in a burst', () => {
  let s: StartedSimulator;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await s.sim.close();
  });

  it('the other keeps serving; the restarted one reconciles each dangling attempt exactly once; one chain verifies', async () => {
    const a = await gatewayProcess(s);
    const b = await gatewayProcess(s);
    const orgId = s.options.qwietOrgs[0].id;
    const tokens = `/qwiet/api/v4/orgs/${orgId}/tokens`;
    const start = async (p: typeof a) => {
      const child = await spawnTs('apps/gateway/src/main.ts', p.env, 'Keygate listening on');
      children.push(child);
      return child;
    };
    let childA = await start(a);
    const childB = await start(b);

    // Both issue and revoke before the burst: what A issued, B's team member revokes.
    const before = await request(a.url)
      .post(tokens)
      .set(a.bearer)
      .send({ label: 'two-before', role_id: CI_ROLE_ID })
      .expect(200);
    await request(b.url).delete(`${tokens}/${before.body.response.id}`).set(b.bearer).expect(200);

    await s.admin.fault({ op: 'qwiet.tokens.create', kind: 'latency', latency_ms: 2_000 });
    const created = s.sim.requestCount('qwiet.tokens.create');
    const burst = (p: typeof a, who: string) =>
      Array.from({ length: 6 }, (_, i) =>
        request(p.url)
          .post(tokens)
          .set(p.bearer)
          .send({ label: `two-burst-${who}-${i}`, role_id: CI_ROLE_ID })
          .then(
            (r) => r.status,
            () => 'killed',
          ),
      );
    const onA = burst(a, 'a');
    const onB = burst(b, 'b');
    await until(async () => s.sim.requestCount('qwiet.tokens.create') >= created + 12 || undefined);
    childA.kill('SIGKILL');
    await once(childA, 'exit');
    expect(await Promise.all(onA)).toEqual(Array(6).fill('killed'));
    // B finishes its own and goes on serving.
    expect(await Promise.all(onB)).toEqual(Array(6).fill(200));
    await request(s.sim.url).delete('/__sim/faults').expect(200);
    await request(b.url)
      .post(tokens)
      .set(b.bearer)
      .send({ label: 'two-after-b', role_id: CI_ROLE_ID })
      .expect(200);
    // The simulator finishes the creates the dead process asked for.
    await until(async () => unseeded(await s.admin.state()) >= 14 || undefined);

    // A again: its start-up reconciles the six attempts it left without an outcome.
    childA = await start(a);
    await request(a.url)
      .post(tokens)
      .set(a.bearer)
      .send({ label: 'two-after-a', role_id: CI_ROLE_ID })
      .expect(200);
    for (const child of [childA, childB]) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }

    expect(await verifyStored(a.db.url, TEST_AUDIT_KEY)).toMatchObject({
      ok: true,
      head: 'matches',
    });
    const records = await labelled(a.db.url, 'two-');
    const attempts = records.filter(
      (r) => r.phase === 'attempt' && r.event === 'qwiet.token.issue',
    );
    expect(attempts).toHaveLength(15);
    for (const attempt of attempts) {
      const outcomes = records.filter(
        (r) => r.request_id === attempt.request_id && r.phase !== 'attempt',
      );
      // Exactly one outcome each: nobody reconciled a dangling attempt twice.
      expect(outcomes).toHaveLength(1);
    }
    const recovered = records.filter((r) => r.note?.startsWith('crash recovery'));
    expect(recovered).toHaveLength(6);
    expect(new Set(recovered.map((r) => r.request_id)).size).toBe(6);
    expect(recovered.every((r) => r.target.label?.startsWith('two-burst-a-'))).toBe(true);

    const issued = (await s.admin.state()).qwiet.tokens.filter((t) => !t.seeded);
    expect(issued).toHaveLength(15);
    const rows = await inventory(a.db.url);
    for (const token of issued) {
      const outcome = records.find(
        (r) =>
          r.target.credential_id?.toLowerCase() === token.id.toLowerCase() &&
          (r.phase === 'succeeded' || r.phase === 'compensated'),
      );
      expect(outcome).toBeDefined();
      expect(rows.has(token.id.toLowerCase())).toBe(true);
      if (outcome?.phase === 'compensated') expect(token.revoked_at).toEqual(expect.any(String));
    }
  }, 90_000);
});
