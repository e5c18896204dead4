import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import request from 'supertest';
import { useDatabase, testServerUrl } from '../support/db';
import {
  gatewayEnv,
  startSimulator,
  StartedSimulator,
  TEST_AUDIT_KEY,
  TEST_JWT_SECRET,
  useStack,
} from '../support/gateway';
import { freePort, runToExit, spawnReady, tsNodeArgs } from '../support/processes';

const LISTENING = 'Keygate listening on';
const passwordOf = (url: string) => decodeURIComponent(new URL(url).password);

/** Runs `sql` as the run's superuser on the maintenance database. */
async function asSuperuser(sql: string): Promise<void> {
  const client = new Client({ connectionString: testServerUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('the gateway on PostgreSQL (DATABASE_URL)', () => {
  const store = useDatabase();
  const stack = useStack(() => ({ DATABASE_URL: store.url }));

  it('reports the store in /health/ready: up or down to anyone, the database without its password to admins', async () => {
    const anonymous = await stack.g.http().get('/health/ready').expect(200);
    expect(anonymous.body.details.store).toEqual({ status: 'up' });

    const admin = await stack.g.token({ roles: ['keygate:admin'] });
    const detailed = await stack.g
      .http()
      .get('/health/ready')
      .set('authorization', `Bearer ${admin}`)
      .expect(200);
    expect(detailed.body.details.store).toMatchObject({
      status: 'up',
      database: expect.stringMatching(
        /^postgres:\/\/keygate_test:\*\*\*@127\.0\.0\.1:\d+\/keygate_t_/,
      ),
      latency_ms: expect.any(Number),
    });
    expect(JSON.stringify(detailed.body)).not.toContain(passwordOf(store.url));
    expect(stack.g.logs.text()).toContain('schema up to date');
    expect(stack.g.logs.text()).not.toContain(passwordOf(store.url));
  });

  it('is red naming the store while the database refuses connections, and green again by itself', async () => {
    const name = store.db.name;
    await asSuperuser(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await asSuperuser(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`,
    );
    try {
      const admin = await stack.g.token({ roles: ['keygate:admin'] });
      const down = await stack.g
        .http()
        .get('/health/ready')
        .set('authorization', `Bearer ${admin}`)
        .expect(503);
      expect(down.body.error.store).toMatchObject({
        status: 'down',
        message: expect.stringContaining('the database cannot be reached'),
      });
      expect(JSON.stringify(down.body)).not.toContain(passwordOf(store.url));
    } finally {
      await asSuperuser(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    }
    const up = await stack.g.http().get('/health/ready').expect(200);
    expect(up.body.details.store).toEqual({ status: 'up' });
  });
});

describe('production start with DATABASE_URL', () => {
  let s: StartedSimulator;
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(async () => {
    await s.sim.close();
  });

  it('exits 1 naming DATABASE_URL, without its password, when the database cannot be reached', async () => {
    const port = await freePort();
    const run = await runToExit(
      tsNodeArgs('apps/gateway/src/main.ts'),
      gatewayEnv(s, {
        DATABASE_URL: `postgres://keygate:N0t-For-Logs-42@127.0.0.1:${port}/keygate`,
        HOST: '127.0.0.1',
        PORT: '0',
      }),
      LISTENING,
    );
    expect(run).toMatchObject({ code: 1, stopped: false });
    expect(run.output).toContain(
      `DATABASE_URL postgres://keygate:***@127.0.0.1:${port}/keygate: the database cannot be reached`,
    );
    expect(run.output).not.toContain('N0t-For-Logs-42');
  }, 60_000);

  it('exits 1 when DATABASE_URL is not a postgres URL, without echoing it', async () => {
    const run = await runToExit(
      tsNodeArgs('apps/gateway/src/main.ts'),
      gatewayEnv(s, {
        DATABASE_URL: 'mysql://keygate:N0t-For-Logs-42@db/keygate',
        HOST: '127.0.0.1',
        PORT: '0',
      }),
      LISTENING,
    );
    expect(run).toMatchObject({ code: 1, stopped: false });
    expect(run.output).toContain('DATABASE_URL must start with postgres:// or postgresql://');
    expect(run.output).not.toContain('N0t-For-Logs-42');
  }, 60_000);
});

describe('npm start (main.dev.ts): the embedded PostgreSQL', () => {
  it('starts a real PostgreSQL in KEYGATE_PG_DIR, the gateway reports the store up, and SIGTERM stops both', async () => {
    // Not the checkout's .keygate/pg. Traversable: as root the server runs as the postgres user.
    const home = mkdtempSync(join(tmpdir(), 'keygate-dev-pg-'));
    chmodSync(home, 0o755);
    const pgDir = join(home, 'pg');
    const port = await freePort();
    const child = await spawnReady(
      tsNodeArgs('apps/gateway/src/main.dev.ts'),
      {
        KEYGATE_PG_DIR: pgDir,
        DATABASE_URL: '',
        QWIET_BASE_URL: '',
        OCTANE_BASE_URL: '',
        AUDIT_HMAC_KEY: TEST_AUDIT_KEY,
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        HOST: '127.0.0.1',
        PORT: String(port),
      },
      '(team payments',
    );
    const exited = once(child, 'exit');
    // A bound, not a synchronisation: a process that does not stop is killed.
    const limit = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      const ready = await request(`http://127.0.0.1:${port}`).get('/health/ready');
      expect(ready.body.details.store).toEqual({ status: 'up' });
      expect(existsSync(join(pgDir, 'data', 'PG_VERSION'))).toBe(true);
      expect(existsSync(join(pgDir, 'data', 'postmaster.pid'))).toBe(true);
      expect(statSync(join(pgDir, 'credentials.json')).mode & 0o777).toBe(0o600);
    } finally {
      child.kill('SIGTERM');
      await exited;
      clearTimeout(limit);
    }
    // The server stopped with the gateway (PostgreSQL removes its pid file on a clean stop).
    expect(existsSync(join(pgDir, 'data', 'postmaster.pid'))).toBe(false);
  }, 90_000);
});
