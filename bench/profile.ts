/**
 * npm run bench:profile [scenario]: where the gateway's time goes under load. Starts the
 * simulator, a PostgreSQL for the audit ledger and the gateway with a CPU profiler, drives one
 * scenario with autocannon (c=32, BENCH_SECONDS), and prints the self time by package and by function. The raw profile is
 * kept in bench-results/ for Chrome DevTools.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { mintDevToken } from '@app/auth';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { ROOT } from '../test/support/processes';
import { cpuSeconds, JWT_SECRET, startStack } from './stack';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time per key, as shares of the whole profile, largest first. */
function selfTime(profile: Profile, key: (n: ProfileNode) => string): [string, number][] {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const k = key(nodes.get(id) as ProfileNode);
    const dt = profile.timeDeltas[i] ?? 0;
    totals.set(k, (totals.get(k) ?? 0) + dt);
    all += dt;
  });
  return [...totals].map(([k, t]): [string, number] => [k, t / all]).sort((a, b) => b[1] - a[1]);
}

const packageOf = ({ callFrame: { url, functionName } }: ProfileNode): string => {
  if (!url) return functionName;
  const dep = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1];
  if (url.startsWith('node:')) return url;
  return `keygate ${url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '')}`;
};
const functionOf = (n: ProfileNode): string =>
  `${n.callFrame.functionName || '(anonymous)'} ${packageOf(n)}:${n.callFrame.lineNumber + 1}`;

async function main(): Promise<void> {
  const scenario = process.argv[2] ?? 'qwiet-create';
  const stack = await startStack(
    'rules:\n  qwiet: { max_lifetime: { max_seconds: 86400 }, lifetime_required: {} }\n',
  );
  try {
    const outDir = join(ROOT, 'bench-results');
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `gateway-${scenario}.cpuprofile`);
    const gateway = await stack.startGateway({ CPU_PROFILE_FILE: file }, [
      '-r',
      'bench/cpu-profile.preload.ts',
    ]);
    const [org] = stack.creds.qwietOrgs;
    const jwt = await mintDevToken(JWT_SECRET, { subject: 'bench', team: 'bench' });
    const post = scenario === 'qwiet-create';
    const signal = (reply: string) => {
      const done = new Promise<void>((resolve) =>
        gateway.child.stdout?.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes(reply)) resolve();
        }),
      );
      gateway.child.kill('SIGUSR2');
      return done;
    };
    const load = (seconds: number) =>
      autocannon({
        url: gateway.url,
        connections: Number(process.env.BENCH_CONNECTIONS ?? 32),
        duration: seconds,
        requests: [
          {
            method: post ? 'POST' : 'GET',
            path: `/qwiet/api/v4/orgs/${org.id}/tokens`,
            headers: { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' },
            ...(post && {
              body: JSON.stringify({
                label: 'ci-bench',
                role_id: CI_ROLE_ID,
                token_type: 'access',
                valid_for_seconds: 3600,
              }),
            }),
          },
        ],
      });
    await load(1); // warm-up: the JIT settles before the profile starts
    if (!process.env.NO_PROFILE) await signal('cpu profile started');
    const cpuBefore = cpuSeconds(gateway.child.pid as number);
    const result = await load(SECONDS);
    const cpu = cpuSeconds(gateway.child.pid as number) - cpuBefore;
    process.stdout.write(
      `${scenario}: ${result.requests.average.toFixed(0)} req/s, p50 ${result.latency.p50} ms, non-2xx ${result.non2xx}, errors ${result.errors}; gateway CPU ${((cpu / result.requests.total) * 1e6).toFixed(0)} µs a request\n`,
    );
    if (process.env.NO_PROFILE) return;
    await signal('cpu profile written');
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const print = (title: string, rows: [string, number][]) =>
      process.stdout.write(
        `\n${title}\n${rows.map(([k, share]) => `${(share * 100).toFixed(1).padStart(5)}%  ${k}`).join('\n')}\n`,
      );
    print('self time by package', selfTime(profile, packageOf).slice(0, 25));
    print('self time by function', selfTime(profile, functionOf).slice(0, 40));
    process.stdout.write(`\nprofile: ${file}\n`);
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
