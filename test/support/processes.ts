import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ROOT = join(__dirname, '../..');

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/**
 * Runs a TypeScript entry point of this repository as its own Node process; resolves once its
 * output contains `ready` (and keeps draining the output so the child never blocks on it).
 */
export function spawnTs(
  script: string,
  env: NodeJS.ProcessEnv,
  ready: string,
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  return spawnReady(
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', ...nodeArgs, script],
    env,
    ready,
  );
}

/** Runs `node <args>` from the repository root; resolves once its output contains `ready`. */
export async function spawnReady(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: string,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const script = args[args.length - 1];
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      if (output.length < 100_000) output += chunk.toString();
      if (output.includes(ready)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`${script} exited (${code}) before it was ready:\n${output.slice(-2000)}`)),
    );
  });
  return child;
}

/** The variables a gateway reads, dropped from the inherited environment by `runToExit`. */
const GATEWAY_VARIABLE = /^(QWIET_|OCTANE_|POLICY_FILE$|AUDIT_|AUTH_|SIM_|HOST$|PORT$)/;

export interface ProcessRun {
  /** The exit code, or null when the process had to be stopped (see `stopOn`). */
  code: number | null;
  /** stdout and stderr, interleaved as they came. */
  output: string;
  /** True when `stopOn` appeared and the process was sent SIGTERM. */
  stopped: boolean;
}

/**
 * Runs `node <args>` from the repository root with exactly `env` on top of the inherited
 * environment minus every gateway variable (so the parent's settings cannot leak in), until it
 * exits. Should its output contain `stopOn` (e.g. a process that was expected to refuse to start
 * is listening), it is stopped with SIGTERM and reported `stopped`; after `limitMs` it is killed.
 */
export async function runToExit(
  args: string[],
  env: NodeJS.ProcessEnv,
  stopOn: string,
  limitMs = 45_000,
): Promise<ProcessRun> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !GATEWAY_VARIABLE.test(name)),
  );
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...inherited, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stopped = false;
  const onData = (chunk: Buffer) => {
    if (output.length < 100_000) output += chunk.toString();
    if (!stopped && output.includes(stopOn)) {
      stopped = true;
      child.kill('SIGTERM');
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  // A bound, not a synchronisation: a process that neither exits nor says `stopOn` is killed.
  const limit = setTimeout(() => child.kill('SIGKILL'), limitMs);
  // 'close', not 'exit': every byte of its output has been read by then.
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(limit);
  return { code: stopped ? null : code, output, stopped };
}

/** `node <args>` that run a TypeScript entry point of this repository under ts-node. */
export const tsNodeArgs = (script: string): string[] => [
  '-r',
  'ts-node/register/transpile-only',
  '-r',
  'tsconfig-paths/register',
  script,
];
