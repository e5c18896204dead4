/**
 * The benchmarks run what ships: JavaScript compiled by tsc and started by plain node, as the
 * Docker image runs the gateway. Under ts-node every process would also carry the REPL and domain
 * modules ts-node loads, which wrap every EventEmitter call (about a tenth of the gateway's CPU).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../test/support/processes';

/** Where the benchmarks' build goes (under dist/, which git ignores). */
export const BENCH_BUILD = join(ROOT, 'dist', 'bench');

/**
 * Files the build needs beside its JavaScript, as `nest build` copies them (nest-cli.json `assets`):
 * the ledger's SQL migrations, which the gateway applies at start-up.
 */
const ASSETS = ['libs/ledger/src/migrations'];

/** Compiles the repository (apps, libs, bench) afresh; a type error stops the benchmark here. */
export function compileForBench(): void {
  rmSync(BENCH_BUILD, { recursive: true, force: true }); // nothing left from sources since deleted
  execFileSync(
    process.execPath,
    [
      require.resolve('typescript/bin/tsc'),
      '-p',
      join(ROOT, 'tsconfig.build.json'),
      '--outDir',
      BENCH_BUILD,
      '--sourceMap',
      'false',
    ],
    { cwd: ROOT, stdio: 'inherit' },
  );
  for (const dir of ASSETS)
    cpSync(join(ROOT, dir), join(BENCH_BUILD, dir), {
      recursive: true,
      filter: (source) => !source.endsWith('.ts'),
    });
}

/**
 * The node arguments that run a repository script (`apps/gateway/src/main.ts`) from that build,
 * after `nodeArgs` (flags, `-r` preloads: a `.ts` preload is mapped to the build the same way).
 * The `@app/*` paths resolve in the build.
 */
export function compiledArgs(script: string, nodeArgs: string[] = []): string[] {
  const built = (file: string) => join(BENCH_BUILD, file.replace(/\.ts$/, '.js'));
  return [
    '-r',
    'tsconfig-paths/register',
    ...nodeArgs.map((arg) => (arg.endsWith('.ts') ? built(arg) : arg)),
    built(script),
  ];
}

/** tsconfig-paths resolves `@app/*` against the build instead of the sources. */
export const compiledEnv = { TS_NODE_BASEURL: BENCH_BUILD };
