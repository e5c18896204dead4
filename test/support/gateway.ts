import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { mintDevToken } from '@app/auth';
import type { AuditEntry, AuditRecord } from '@app/audit';
import { Database, PgLedgerSink } from '@app/ledger';
import { CI_ROLE_ID } from '@app/upstream-sim';
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
    AUDIT_HMAC_KEY: TEST_AUDIT_KEY,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    // Room for a loopback answer on a loaded machine; the tests of a hanging vendor wait this long.
    UPSTREAM_TIMEOUT_MS: '2000',
    UPSTREAM_GET_RETRIES: '1',
    LOG_LEVEL: 'info',
    // The vendor acts at once in these tests: the first check after a lost answer is the last.
    LOST_ANSWER_WINDOW_MS: '0',
    // One instance per database in most tests: an open attempt at start-up is the last run's to
    // settle at once (the tests of several instances set RECOVERY_AFTER_MS), and no recovery pass
    // is scheduled unless a test asks for one (RECOVERY_INTERVAL).
    RECOVERY_AFTER_MS: '0',
    RECOVERY_INTERVAL: 'off',
    // No background reconciliation pass in tests that move the clock for other reasons (the drift
    // tests ask for one: POST /v1/reconcile, or RECONCILE_INTERVAL in their overrides).
    RECONCILE_INTERVAL: 'off',
    // Nor a scheduled expiry scan or delivery round (the notifications tests run them with
    // POST /v1/notifications/run, or set the intervals).
    NOTIFY_SCAN_INTERVAL: 'off',
    NOTIFY_DELIVERY_INTERVAL: 'off',
    ...overrides,
  };
}

export interface StartedGateway {
  app: NestFastifyApplication;
  config: GatewayConfig;
  /** Its database (the ledger): the test file's shared one, its own, or the one it was given. */
  db: { name: string; url: string };
  url: string;
  logs: LogCapture;
  http: () => ReturnType<typeof request>;
  token: (claims?: { team?: string; sub?: string; roles?: string[] }) => Promise<string>;
  close: () => Promise<void>;
}

/**
 * The test file's database: one per file (jest loads this module once per test file), created at
 * the first gateway that needs it, shared by the file's gateways, dropped after the file's tests
 * once its last gateway has closed.
 */
let fileDatabase: Promise<TestDatabase> | undefined;
let fileDatabaseUsers = 0;
let fileDone = false;
/** A gateway failed to start on it: its connections were never closed, so it is left in place. */
let fileDatabaseKept = false;

async function dropFileDatabase(): Promise<void> {
  const database = fileDatabase;
  fileDatabase = undefined;
  if (!fileDatabaseKept) await (await database)?.drop();
}

if (typeof afterAll === 'function')
  afterAll(async () => {
    fileDone = true;
    if (fileDatabaseUsers === 0) await dropFileDatabase();
  });

/** The test file's shared database (created on first use). */
export function useFileDatabase(): Promise<TestDatabase> {
  return (fileDatabase ??= createTestDatabase());
}

export interface GatewayOptions {
  /**
   * `file` (the default): the test file's shared database; `own`: a database of its own, dropped
   * when it closes (for gateways of one file that must not share a ledger). A DATABASE_URL in the
   * overrides wins over both.
   */
  database?: 'file' | 'own';
  /**
   * `simulator`: the gateway's lifecycle clock is the simulator's (moved by `advanceClock`), so
   * expiry and schedules move with it instead of sleeping; wall time otherwise.
   */
  clock?: 'simulator';
}

/** The real gateway (same wiring as main.ts) on an ephemeral loopback port, in front of `s`. */
export async function startGateway(
  s: StartedSimulator,
  overrides: NodeJS.ProcessEnv = {},
  options: GatewayOptions = {},
): Promise<StartedGateway> {
  let own: TestDatabase | undefined;
  let db: { name: string; url: string };
  let shared = false;
  if (overrides.DATABASE_URL !== undefined) {
    const url = overrides.DATABASE_URL;
    db = { name: new URL(url).pathname.slice(1), url };
  } else if (options.database === 'own') {
    db = own = await createTestDatabase();
  } else {
    db = await useFileDatabase();
    shared = true;
    fileDatabaseUsers += 1;
  }
  let closed = false;
  const release = async () => {
    if (closed) return;
    closed = true;
    await own?.drop();
    if (shared) {
      fileDatabaseUsers -= 1;
      if (fileDone && fileDatabaseUsers === 0) await dropFileDatabase();
    }
  };
  let app: NestFastifyApplication;
  let config: GatewayConfig;
  const logs = new LogCapture();
  try {
    config = loadGatewayConfig(gatewayEnv(s, { DATABASE_URL: db.url, ...overrides }));
    app = await createGateway(config, {
      logStream: logs,
      ...(options.clock === 'simulator' && { clock: s.sim.clock }),
    });
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    // A start that failed half-way leaves its pool open (there is no app to close): dropping the
    // database under it would end those connections with an unhandled error. Left in place (the
    // run's server, and every database on it, goes at the end of the run).
    if (shared) fileDatabaseKept = true;
    own = undefined;
    await release();
    throw error;
  }
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    app,
    config,
    db: { name: db.name, url: db.url },
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
      if (closed) return;
      try {
        await app.close();
      } finally {
        await release();
      }
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
  gatewayOptions: GatewayOptions = {},
) {
  const stack = {} as { s: StartedSimulator; g: StartedGateway };
  beforeAll(async () => {
    stack.s = await startSimulator(simOptions);
    const overrides =
      typeof gatewayOverrides === 'function' ? gatewayOverrides(stack.s) : gatewayOverrides;
    stack.g = await startGateway(stack.s, overrides, gatewayOptions);
  });
  afterAll(async () => {
    await stack.g?.close();
    await stack.s?.sim.close();
  });
  return stack;
}

/** Records appended to the ledger at `url` by a writer of their own, as another instance would. */
export async function plantRecords(url: string, entries: AuditEntry[]): Promise<AuditRecord[]> {
  const database = await Database.connect({ url });
  const sink = await PgLedgerSink.open({ database, hmacKey: TEST_AUDIT_KEY });
  try {
    return await sink.append(entries);
  } finally {
    await sink.close();
    await database.close();
  }
}

/** A Qwiet issuance's entry for `requestId` (its label carries the request's marker, as Keygate's do). */
export const qwietIssue = (orgId: string, requestId: string, phase: AuditEntry['phase']) =>
  ({
    request_id: requestId,
    event: 'qwiet.token.issue',
    phase,
    actor: { subject: 'ci', team: 'payments' },
    target: {
      vendor: 'qwiet',
      org_id: orgId,
      label: `crashed [keygate:${requestId}]`,
      role_ids: [CI_ROLE_ID],
    },
  }) satisfies AuditEntry;

/** A Qwiet issuance's attempt with no outcome, as an instance that then died leaves it; its seq. */
export async function plantAttempt(url: string, orgId: string, requestId: string): Promise<number> {
  const [attempt] = await plantRecords(url, [qwietIssue(orgId, requestId, 'attempt')]);
  return attempt.seq;
}
