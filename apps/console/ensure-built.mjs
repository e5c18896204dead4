// Builds the console (apps/console/dist) when its build is missing: `npm start` runs this first
// (prestart), and so do the tests that need the page. `npm run build:console` always rebuilds
// (and type-checks first).
//
// Several test files may call this at once (jest runs them in parallel workers): each builds
// into a directory of its own and renames it to dist in one step; the first rename wins and the
// others throw their copy away, so no test ever sees a half-written or emptied dist.
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
if (!existsSync(join(dist, 'index.html'))) {
  process.stdout.write('Building the console (apps/console/dist is missing)…\n');
  const out = mkdtempSync(join(here, '.dist-'));
  try {
    const { build } = await import('vite');
    await build({ configFile: join(here, 'vite.config.mts'), build: { outDir: out } });
    try {
      renameSync(out, dist);
    } catch (error) {
      // Another build got there first (dist exists now): its copy is the same build.
      if (!existsSync(join(dist, 'index.html'))) throw error;
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
