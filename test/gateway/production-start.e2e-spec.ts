import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  gatewayEnv,
  startSimulator,
  StartedSimulator,
  TEST_AUDIT_KEY,
  TEST_JWT_SECRET,
  useFileDatabase,
} from '../support/gateway';
import { ROOT, runToExit, tsNodeArgs } from '../support/processes';

const PRODUCTION = 'apps/gateway/src/main.ts';
const DEVELOPMENT = 'apps/gateway/src/main.dev.ts';
const LISTENING = 'Keygate listening on';
/** A compact JWS (what a printed bearer token would look like). */
const JWT = /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/;

const freshDir = () => mkdtempSync(join(tmpdir(), 'keygate-start-'));

/** Everything but the vendors: the production start must still refuse to run. */
const withoutVendors = () => ({
  POLICY_FILE: 'config/policy.example.yaml',
  AUDIT_HMAC_KEY: TEST_AUDIT_KEY,
  AUTH_JWT_SECRET: TEST_JWT_SECRET,
  HOST: '127.0.0.1',
  PORT: '0',
});

const expectNoToken = (output: string) => {
  expect(output).not.toContain('token:');
  expect(output).not.toMatch(JWT);
  expect(output).not.toContain(TEST_JWT_SECRET);
  expect(output).not.toContain(LISTENING);
};

describe('production start (apps/gateway/src/main.ts)', () => {
  it('without vendor URLs or credentials exits 1 naming each missing variable, printing no token', async () => {
    const run = await runToExit(tsNodeArgs(PRODUCTION), withoutVendors(), LISTENING);
    expect(run).toMatchObject({ code: 1, stopped: false });
    for (const name of [
      'QWIET_BASE_URL',
      'QWIET_ORG_TOKENS',
      'OCTANE_BASE_URL',
      'OCTANE_CREDENTIALS',
      'DATABASE_URL',
    ])
      expect(run.output).toContain(`${name} is not set`);
    expectNoToken(run.output);
  }, 60_000);

  it('with one vendor configured and the other not, names the other', async () => {
    const run = await runToExit(
      tsNodeArgs(PRODUCTION),
      {
        ...withoutVendors(),
        QWIET_BASE_URL: 'http://127.0.0.1:9/api/v4',
        QWIET_ORG_TOKENS: '{"2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42":"t"}',
      },
      LISTENING,
    );
    expect(run).toMatchObject({ code: 1, stopped: false });
    expect(run.output).toContain('OCTANE_BASE_URL is not set');
    expect(run.output).toContain('OCTANE_CREDENTIALS is not set');
    expect(run.output).not.toContain('QWIET_BASE_URL');
    expectNoToken(run.output);
  }, 60_000);

  describe('with the vendors configured', () => {
    let s: StartedSimulator;
    beforeAll(async () => {
      s = await startSimulator();
    });
    afterAll(async () => {
      await s.sim.close();
    });

    it('exits 1 naming DATABASE_URL when it is not set (PostgreSQL is the one store), and needs no AUDIT_DIR', async () => {
      const run = await runToExit(
        tsNodeArgs(PRODUCTION),
        gatewayEnv(s, { HOST: '127.0.0.1', PORT: '0' }),
        LISTENING,
      );
      expect(run).toMatchObject({ code: 1, stopped: false });
      expect(run.output).toContain('DATABASE_URL is not set (the PostgreSQL store');
      expect(run.output).not.toContain('AUDIT_DIR');
      expectNoToken(run.output);
    }, 60_000);

    it('starts with a complete environment (no AUDIT_DIR), and prints no token', async () => {
      const { url } = await useFileDatabase();
      const run = await runToExit(
        tsNodeArgs(PRODUCTION),
        gatewayEnv(s, { DATABASE_URL: url, HOST: '127.0.0.1', PORT: '0' }),
        LISTENING,
      );
      expect(run.stopped).toBe(true);
      expect(run.output).not.toContain('token:');
      expect(run.output).not.toMatch(JWT);
    }, 60_000);
  });

  it('compiles (nest build gateway) without the simulator or the development entry point', () => {
    const files = execFileSync(
      process.execPath,
      [
        require.resolve('typescript/bin/tsc'),
        '-p',
        'apps/gateway/tsconfig.app.json',
        '--listFilesOnly',
      ],
      { cwd: ROOT, encoding: 'utf8' },
    )
      .split('\n')
      .filter((f) => f && !f.includes('node_modules'))
      .map((f) => relative(ROOT, f));
    expect(files).toContain('apps/gateway/src/main.ts');
    expect(files.filter((f) => f.startsWith('apps/upstream-sim/'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('apps/gateway/src/dev/'))).toEqual([]);
    expect(files).not.toContain('apps/gateway/src/main.dev.ts');
    expect(files.filter((f) => f.endsWith('.spec.ts'))).toEqual([]);
  }, 60_000);
});

describe('development start (apps/gateway/src/main.dev.ts, npm start)', () => {
  it('without vendor URLs runs the embedded default and prints a ready-to-paste token', async () => {
    // Its embedded PostgreSQL in a directory of its own, not the checkout's .keygate/pg (traversable:
    // as root the server runs as the postgres user).
    const pgHome = freshDir();
    chmodSync(pgHome, 0o755);
    const env = { ...withoutVendors(), KEYGATE_PG_DIR: join(pgHome, 'pg') };
    const run = await runToExit(tsNodeArgs(DEVELOPMENT), env, '(team payments');
    expect(run.stopped).toBe(true);
    expect(run.output).toContain('with the vendor simulator in-process');
    expect(run.output).toMatch(new RegExp(`token: +export KEYGATE_TOKEN=${JWT.source}`));
  }, 60_000);
});
