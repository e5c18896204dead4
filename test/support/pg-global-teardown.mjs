// jest globalTeardown: stops the run's PostgreSQL (pg-global-setup.mjs) and removes its directory.
import { rmSync } from 'node:fs';

export default async function stopTestPostgres() {
  const started = globalThis.__KEYGATE_TEST_PG__;
  if (!started) return;
  globalThis.__KEYGATE_TEST_PG__ = undefined;
  await started.server.stop();
  rmSync(started.dir, { recursive: true, force: true });
}
