// Builds the console (apps/console/dist) when its build is missing: `npm start` runs this first
// (prestart), and so does the browser test. `npm run build:console` always rebuilds.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import process from 'node:process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
if (!existsSync(join(here, 'dist', 'index.html'))) {
  process.stdout.write('Building the console (apps/console/dist is missing)…\n');
  execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '-s', 'build:console'], {
    cwd: join(here, '..', '..'),
    stdio: 'inherit',
  });
}
