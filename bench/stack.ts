/**
 * The processes a benchmark or soak runs against, on loopback only: ONE embedded PostgreSQL for the
 * run (a database per gateway, which the gateway migrates at start-up), the simulator and gateways.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { AuditRecord } from '@app/audit';
import { Database, ledgerLines, verifyLedger } from '@app/ledger';
import type { LedgerVerifyResult } from '@app/ledger';
import { generatedCredentials } from '@app/upstream-sim';
import { EmbeddedPostgres, startEmbeddedPostgres } from '../apps/gateway/src/dev/embedded-postgres';
import { freePort, ROOT, spawnReady } from '../test/support/processes';
import { compiledArgs, compiledEnv, compileForBench } from './compiled';

/** The node flags the Docker image starts the gateway with (its CMD), so the bench runs it alike. */
const IMAGE_NODE_FLAGS: string[] = (() => {
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
  const args = cmd ? (JSON.parse(cmd) as string[]) : [];
  return args.filter((arg) => arg.startsWith('--'));
})();

export const JWT_SECRET = 'bench-jwt-secret-bench-jwt-secret-0123456789';
export const AUDIT_KEY = 'bench-audit-key-bench-audit-key-0123456789';

export interface Stack {
  creds: ReturnType<typeof generatedCredentials>;
  simUrl: string;
  /** Environment that points a gateway (or the raw forwarder) at the simulator. */
  vendorEnv: Record<string, string>;
  startGateway: (
    env?: Record<string, string>,
    nodeArgs?: string[],
  ) => Promise<{ url: string; databaseUrl: string; child: ChildProcess }>;
  spawn: (
    script: string,
    env: Record<string, string>,
    ready: string,
    nodeArgs?: string[],
  ) => Promise<ChildProcess>;
  /** A new empty database on the run's PostgreSQL: its DATABASE_URL. */
  createDatabase: (name: string) => Promise<string>;
  /** CPU seconds the run's PostgreSQL has used so far (server and every backend, ended ones too). */
  postgresCpuSeconds: () => number;
  /** Stops every process, then the PostgreSQL server, and removes its data (bounded; never throws). */
  stop: () => Promise<void>;
}

/** The fields of /proc/PID/stat after the command name (field 3 onwards), or undefined when gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) process `pid` has used so far, from /proc (Linux); 0 once gone. */
export function cpuSeconds(pid: number): number {
  const f = statFields(pid);
  return f ? (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND : 0;
}

/** Resident memory of process `pid` in MiB (VmRSS), from /proc. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) / 1024;
}

/**
 * CPU seconds of a PostgreSQL server: the postmaster's own, those of its children that have
 * ended (reaped: cutime + cstime) and those of its living backends and workers.
 */
function serverCpuSeconds(dataDir: string): number {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const own = statFields(postmaster);
  if (!own) return 0;
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(Number(entry));
    if (f && Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / TICKS_PER_SECOND;
}

/** How long a process or the PostgreSQL server gets to stop before it is killed / given up on. */
const STOP_MS = 10_000;

/** Resolves when `promise` does or after `ms`, whichever comes first (true: it settled in time). */
const within = (promise: Promise<unknown>, ms: number): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]).finally(() => clearTimeout(timer));
};

/** SIGTERM, then SIGKILL if the process has not exited within STOP_MS. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  if (!(await within(exited, STOP_MS))) {
    child.kill('SIGKILL');
    await within(exited, STOP_MS);
  }
}

/** ONE PostgreSQL for the run, in a temporary directory (fsync and synchronous_commit as shipped). */
async function startPostgres(): Promise<{ server: EmbeddedPostgres; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-pg-'));
  chmodSync(dir, 0o755); // as root the server runs as the user postgres, which must reach it
  try {
    return { server: await startEmbeddedPostgres(dir), dir };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** `url` with another database name. */
function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Creates an empty database on the server of `url` (the gateway started on it migrates it). */
async function createDatabase(url: string, name: string): Promise<string> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  return withDatabase(url, name);
}

/** Runs `fn` on a connection to the database at `url`, closed afterwards. */
async function onLedger<T>(url: string, fn: (database: Database) => Promise<T>): Promise<T> {
  const database = await Database.connect({ url, applicationName: 'keygate-bench', max: 2 });
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

/** Every record of the ledger at `url`, in seq order (read in keyset pages). */
export function ledgerRecords(url: string): Promise<AuditRecord[]> {
  return onLedger(url, async (database) => {
    const records: AuditRecord[] = [];
    for await (const page of ledgerLines(database))
      for (const { line } of page) records.push(JSON.parse(line) as AuditRecord);
    return records;
  });
}

/** The ids of the credentials a `succeeded` or `compensated` record of the ledger at `url` names. */
export function accountedCredentialIds(url: string): Promise<Set<string>> {
  return onLedger(url, async (database) => {
    const { rows } = await database.query<{ id: string }>(
      `SELECT DISTINCT target->>'credential_id' AS id FROM ledger_records
        WHERE phase IN ('succeeded', 'compensated') AND target ? 'credential_id'`,
    );
    return new Set(rows.map((r) => r.id));
  });
}

/** The gateway's own chain check of the ledger at `url` (from seq 1 to the MAC'd head). */
export function verifyStoredLedger(url: string): Promise<LedgerVerifyResult> {
  return onLedger(url, (database) => verifyLedger(database, { key: AUDIT_KEY }));
}

/** Compiles the repository, then starts the simulator; gateways and other processes on demand. */
export async function startStack(policyRules = ''): Promise<Stack> {
  compileForBench();
  const creds = generatedCredentials();
  const children: ChildProcess[] = [];
  const postgres = await startPostgres();
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all(children.map(stopChild));
      if (!(await within(postgres.server.stop(), STOP_MS)))
        process.stderr.write(
          `the bench's PostgreSQL in ${postgres.dir} did not stop within ${STOP_MS} ms\n`,
        );
      rmSync(postgres.dir, { recursive: true, force: true });
    })());
  try {
    return {
      ...(await startProcesses(policyRules, creds, children, postgres.server.url, stop)),
      createDatabase: (name: string) => createDatabase(postgres.server.url, name),
      postgresCpuSeconds: () => serverCpuSeconds(postgres.server.dataDir),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startProcesses(
  policyRules: string,
  creds: ReturnType<typeof generatedCredentials>,
  children: ChildProcess[],
  serverUrl: string,
  stop: () => Promise<void>,
): Promise<Omit<Stack, 'createDatabase' | 'postgresCpuSeconds'>> {
  const spawn = async (
    script: string,
    env: Record<string, string>,
    ready: string,
    nodeArgs: string[] = [],
  ) => {
    const child = await spawnReady(
      compiledArgs(script, nodeArgs),
      { ...env, ...compiledEnv },
      ready,
    );
    children.push(child);
    return child;
  };
  const simPort = await freePort();
  await spawn(
    'apps/upstream-sim/src/main.ts',
    {
      SIM_PORT: String(simPort),
      SIM_ADMIN: 'on',
      SIM_QWIET_ORG_IDS: creds.qwietOrgs.map((o) => o.id).join(','),
      SIM_QWIET_TOKENS: creds.qwietOrgs.map((o) => o.adminToken).join(','),
      SIM_OCTANE_SHARED_SPACES: creds.octaneSpaces.map((s) => s.id).join(','),
      SIM_OCTANE_CLIENT_IDS: creds.octaneSpaces.map((s) => s.clientId).join(','),
      SIM_OCTANE_CLIENT_SECRETS: creds.octaneSpaces.map((s) => s.clientSecret).join(','),
    },
    'upstream-sim listening',
  );
  const simUrl = `http://127.0.0.1:${simPort}`;
  const policyFile = join(mkdtempSync(join(tmpdir(), 'keygate-stack-')), 'policy.yaml');
  const scope = `{ qwiet_orgs: [${creds.qwietOrgs.map((o) => o.id).join(', ')}], octane_shared_spaces: [${creds.octaneSpaces.map((s) => `'${s.id}'`).join(', ')}] }`;
  writeFileSync(
    policyFile,
    ['version: 1', policyRules, 'teams:', `  bench: ${scope}`, ''].join('\n'),
  );
  const vendorEnv = {
    QWIET_BASE_URL: `${simUrl}/api/v4`,
    QWIET_ORG_TOKENS: JSON.stringify(
      Object.fromEntries(creds.qwietOrgs.map((o) => [o.id, o.adminToken])),
    ),
    OCTANE_BASE_URL: simUrl,
    OCTANE_CREDENTIALS: JSON.stringify(
      Object.fromEntries(
        creds.octaneSpaces.map((s) => [
          s.id,
          { client_id: s.clientId, client_secret: s.clientSecret },
        ]),
      ),
    ),
  };
  let gateways = 0;
  const startGateway = async (env: Record<string, string> = {}, nodeArgs: string[] = []) => {
    const port = await freePort();
    const databaseUrl = await createDatabase(serverUrl, `keygate_bench_${++gateways}`);
    const child = await spawn(
      'apps/gateway/src/main.ts',
      {
        ...vendorEnv,
        PORT: String(port),
        POLICY_FILE: policyFile,
        DATABASE_URL: databaseUrl,
        AUDIT_HMAC_KEY: AUDIT_KEY,
        AUTH_JWT_SECRET: JWT_SECRET,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        // The request budget stays in the path but never binds: the load comes from one subject.
        RATE_LIMIT_PER_MINUTE: '1000000',
        ...env,
      },
      'Keygate listening on',
      [...IMAGE_NODE_FLAGS, ...nodeArgs],
    );
    return { url: `http://127.0.0.1:${port}`, databaseUrl, child };
  };
  return { creds, simUrl, vendorEnv, startGateway, spawn, stop };
}
