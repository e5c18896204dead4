import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { mintDevToken } from '@app/auth';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import { createGateway } from '../../apps/gateway/src/bootstrap';
import { loadGatewayConfig } from '../../apps/gateway/src/config/env.validation';
import type { GatewayConfig } from '../../apps/gateway/src/config/gateway.config';
import { createTestDatabase, TestDatabase } from './db';
import { startSimulator, StartedSimulator } from './simulator';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
export const TEST_AUDIT_KEY = 'test-audit-hmac-key-long-enough-0123456789';

/** Captures every log line the gateway writes. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    done();
  }
  text(): string {
    return this.lines.join('');
  }
}

/** Teams payments (first org and space) and platform (second ones), and no rule beyond scope. */
export function scopeOnlyPolicy(s: StartedSimulator, rules = ''): string {
  const [orgA, orgB] = s.options.qwietOrgs;
  const [spaceA, spaceB] = s.options.octaneSpaces;
  return [
    'version: 1',
    rules,
    'teams:',
    `  payments: { qwiet_orgs: [${orgA.id}], octane_shared_spaces: ['${spaceA.id}'] }`,
    `  platform: { qwiet_orgs: [${orgB.id}], octane_shared_spaces: ['${spaceB.id}'] }`,
    '',
  ].join('\n');
}

/** Writes a policy file in a fresh temporary folder; returns its path. */
export function writePolicy(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'keygate-policy-')), 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

/** The gateway env that points at a running simulator: team payments -> first org/space, platform -> second. */
export function gatewayEnv(
  s: StartedSimulator,
  overrides: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  const [orgA, orgB] = s.options.qwietOrgs;
  const [spaceA, spaceB] = s.options.octaneSpaces;
  return {
    QWIET_BASE_URL: `${s.sim.url}/api/v4`,
    QWIET_ORG_TOKENS: JSON.stringify({ [orgA.id]: orgA.adminToken, [orgB.id]: orgB.adminToken }),
    OCTANE_BASE_URL: s.sim.url,
    OCTANE_CREDENTIALS: JSON.stringify({
      [spaceA.id]: { client_id: spaceA.clientId, client_secret: spaceA.clientSecret },
      [spaceB.id]: { client_id: spaceB.clientId, client_secret: spaceB.clientSecret },
    }),
    POLICY_FILE: writePolicy(scopeOnlyPolicy(s)),
    AUDIT_DIR: mkdtempSync(join(tmpdir(), 'keygate-audit-')),
    AUDIT_HMAC_KEY: TEST_AUDIT_KEY,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    UPSTREAM_TIMEOUT_MS: '1000',
    UPSTREAM_GET_RETRIES: '1',
    LOG_LEVEL: 'info',
    // The vendor acts at once in these tests: the first check after a lost answer is the last.
    LOST_ANSWER_WINDOW_MS: '0',
    ...overrides,
  };
}

export interface StartedGateway {
  app: NestFastifyApplication;
  config: GatewayConfig;
  url: string;
  logs: LogCapture;
  http: () => ReturnType<typeof request>;
  token: (claims?: { team?: string; sub?: string; roles?: string[] }) => Promise<string>;
  close: () => Promise<void>;
}

/** The real gateway (same wiring as main.ts) on an ephemeral loopback port, in front of `s`. */
export async function startGateway(
  s: StartedSimulator,
  overrides: NodeJS.ProcessEnv = {},
): Promise<StartedGateway> {
  // KEYGATE_TEST_LEDGER=pg: every gateway without a DATABASE_URL of its own gets a database.
  let database: TestDatabase | undefined;
  if (process.env.KEYGATE_TEST_LEDGER === 'pg' && overrides.DATABASE_URL === undefined)
    database = await createTestDatabase();
  const config = loadGatewayConfig(
    gatewayEnv(s, { ...(database && { DATABASE_URL: database.url }), ...overrides }),
  );
  const logs = new LogCapture();
  const app = await createGateway(config, { logStream: logs });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    config,
    url,
    logs,
    http: () => request(url),
    token: (claims = {}) =>
      mintDevToken(TEST_JWT_SECRET, {
        subject: claims.sub ?? 'alice',
        team: claims.team ?? 'payments',
        roles: claims.roles,
      }),
    close: async () => {
      await app.close();
      await database?.drop();
    },
  };
}

export { startSimulator };
export type { StartedSimulator };

/**
 * A simulator and a gateway in front of it for one describe block: started before its tests,
 * closed after them. Read `stack.s` and `stack.g` inside the tests.
 */
export function useStack(
  gatewayOverrides: NodeJS.ProcessEnv | ((s: StartedSimulator) => NodeJS.ProcessEnv) = {},
  simOptions: Parameters<typeof startSimulator>[0] = {},
) {
  const stack = {} as { s: StartedSimulator; g: StartedGateway };
  beforeAll(async () => {
    stack.s = await startSimulator(simOptions);
    const overrides =
      typeof gatewayOverrides === 'function' ? gatewayOverrides(stack.s) : gatewayOverrides;
    stack.g = await startGateway(stack.s, overrides);
  });
  afterAll(async () => {
    await stack.g?.close();
    await stack.s?.sim.close();
  });
  return stack;
}
