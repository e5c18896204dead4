// Builds the console (apps/console/dist) when its build is missing or was made from other sources:
// `npm start` runs this first (prestart), and so do the tests that need the page, so an edited
// console is never tested or served from an old build. `npm run build:console` always rebuilds
// (and type-checks first).
//
// The build records a hash of what it was made from (index.html, the Vite config, src/) in
// dist/.sources; a different hash means a rebuild.
//
// Several test files may call this at once (jest runs them in parallel workers): one builds (a
// lock directory), into a directory of its own swapped in by renames, while the others wait; no
// test ever sees a half-written dist.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
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
const current = () => existsSync(join(dist, 'index.html')) && read(stamp) === wanted;

/**
 * Runs `work` while holding a lock directory (mkdir is atomic): one build at a time, the others
 * wait and then find the build current. A lock left by a killed build is taken over after 10 min.
 */
async function exclusively(work) {
  const lock = join(here, '.build-lock');
  const giveUp = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 10 * 60_000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > giveUp) throw new Error(`${lock} is held: is a build stuck?`);
      else await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

if (!current())
  await exclusively(async () => {
    if (current()) return; // built by another process while this one waited
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
      if (existsSync(dist)) renameSync(dist, old);
      renameSync(out, dist);
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(old, { recursive: true, force: true });
    }
  });
