// Builds the console (apps/console/dist) when its build is missing or was made from other sources:
// `npm start` runs this first (prestart), and so do the tests that need the page, so an edited
// console is never tested or served from an old build. `npm run build:console` always rebuilds
// (and type-checks first).
//
// The build records a hash of what it was made from (index.html, the Vite config, src/) in
// dist/.sources; a different hash means a rebuild.
//
// Several test files may call this at once (jest runs them in parallel workers): each builds
// into a directory of its own and swaps it in with renames; no test ever sees a half-written or
// emptied dist.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const stamp = join(dist, '.sources');

function sourcesHash() {
  const files = ['index.html', 'vite.config.mts'].map((f) => join(here, f));
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(join(here, 'src'));
  const hash = createHash('sha256');
  for (const file of files.sort())
    hash
      .update(`${relative(here, file)}\0`)
      .update(readFileSync(file))
      .update('\0');
  return hash.digest('hex');
}

const read = (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);
const wanted = sourcesHash();
if (!existsSync(join(dist, 'index.html')) || read(stamp) !== wanted) {
  process.stdout.write(
    `Building the console (apps/console/dist is ${existsSync(dist) ? 'out of date' : 'missing'})…\n`,
  );
  const out = mkdtempSync(join(here, '.dist-'));
  const old = `${out}-old`;
  try {
    const { build } = await import('vite');
    await build({
      configFile: join(here, 'vite.config.mts'),
      build: { outDir: out },
      logLevel: 'warn',
    });
    writeFileSync(join(out, '.sources'), wanted);
    // Move an out-of-date dist aside, then put the new one in its place. Another process may do
    // the same at once: a rename that finds its target taken loses, and then dist is a build of
    // these same sources.
    if (existsSync(dist) && read(stamp) !== wanted) {
      try {
        renameSync(dist, old);
      } catch {
        // Moved aside by another build already.
      }
    }
    try {
      renameSync(out, dist);
    } catch (error) {
      if (read(stamp) !== wanted) throw error;
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}
