/**
 * `npm run bench:scale`: the gateway on a large ledger. Generates a file log of
 * BENCH_LEDGER_RECORDS records (default 2,000,000; as the file sink wrote them), loads it with
 * `keygate audit import` (the compiled CLI), then compares a gateway on that ledger with one on an
 * empty ledger: start-up to ready and RSS; `GET /v1/audit` latency under issuance load for a filter
 * that matches nothing, by team, by credential id and by fingerprint; and the issuances' p99 with
 * and without those queries running. Bounded in time; loopback only.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { AuditEntry, AuditFileSink } from '@app/audit';
import { GatewayRole, mintDevToken } from '@app/auth';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { ROOT } from '../test/support/processes';
import { compiledArgs, compiledEnv } from './compiled';
import { AUDIT_KEY, JWT_SECRET, rssMiB, startStack, stopChild } from './stack';

const RECORDS = Number(process.env.BENCH_LEDGER_RECORDS ?? 2_000_000);
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const READY_TIMEOUT_MS = 120_000;
const TEAMS = 40;
/**
 * Each auditor's queries a second in the paced run (BENCH_QUERY_RATE): by default 10, the most the
 * default request budget (RATE_LIMIT_PER_MINUTE, 600) lets one caller make. The back-to-back run
 * has the budget lifted: auditors as a load generator, a stress figure.
 */
const QUERIES_PER_SECOND = Number(process.env.BENCH_QUERY_RATE ?? 10);
/** Starts on each ledger (BENCH_STARTS) and rounds of each issuance run (BENCH_ROUNDS), in turns. */
const STARTS = Number(process.env.BENCH_STARTS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** A history like CI issuance: attempts and outcomes of Qwiet tokens, 40 teams, a fingerprint each. */
function historyEntry(n: number, known: Known): AuditEntry {
  const outcome = n % 2 === 1;
  const credential = outcome ? randomUUID() : undefined;
  const fingerprint = outcome ? `hmac-sha256:${randomBytes(32).toString('hex')}` : undefined;
  if (credential && n % 100_001 === 1) known.credentials.push(credential);
  if (fingerprint && n % 100_003 === 1) known.fingerprints.push(fingerprint);
  return {
    request_id: `req-${Math.floor(n / 2)}`,
    event: 'qwiet.token.issue',
    phase: outcome ? 'succeeded' : 'attempt',
    actor: { subject: `ci-bot-${n % 997}`, team: `team-${n % TEAMS}`, ip: '10.1.2.3' },
    target: {
      vendor: 'qwiet',
      org_id: '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42',
      ...(credential && { credential_id: credential }),
      label: `ci-build-${n}`,
      role_ids: [CI_ROLE_ID],
      token_type: 'access',
      lifetime_requested: 3600,
      lifetime_effective: 3600,
    },
    decision: { allowed: true, violations: [], warnings: [], policy_revision: 'sha256:5f1c0de2a9' },
    ...(outcome && { vendor: { status: 200, latency_ms: 12 }, fingerprint }),
  };
}

interface Known {
  credentials: string[];
  fingerprints: string[];
}

/** Writes the file log (fsync off: generating it is not what is measured). */
async function generateFileLog(dir: string, count: number, known: Known): Promise<void> {
  const sink = await AuditFileSink.open({
    dir,
    segmentBytes: 256 * 1024 * 1024,
    hmacKey: AUDIT_KEY,
    fsync: false,
  });
  for (let done = 0; done < count;) {
    const batch: AuditEntry[] = [];
    for (let i = 0; i < 5_000 && done < count; i++) batch.push(historyEntry(++done, known));
    await sink.append(batch);
  }
  await sink.close();
}

/** Runs the compiled `keygate` CLI; throws with its output when it fails. */
function keygate(args: string[], databaseUrl: string): string {
  const result = spawnSync(process.execPath, [...compiledArgs('apps/cli/src/main.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...compiledEnv, DATABASE_URL: databaseUrl, AUDIT_HMAC_KEY: AUDIT_KEY },
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.status !== 0)
    throw new Error(`keygate ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
  return result.stdout.trim();
}

/** Polls /health/ready (bounded) until it answers 200: milliseconds since `since`. */
async function readyAfter(url: string, since: number): Promise<number> {
  for (;;) {
    const res = await fetch(`${url}/health/ready`).catch(() => undefined);
    if (res?.status === 200) return performance.now() - since;
    if (performance.now() - since > READY_TIMEOUT_MS)
      throw new Error(`${url} not ready within ${READY_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const median = (values: number[]) => percentile(values, 0.5);

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
};

async function main(): Promise<void> {
  const stack = await startStack(
    'rules:\n  qwiet: { max_lifetime: { max_seconds: 86400 }, lifetime_required: {} }\n',
  );
  process.once('SIGINT', () => void stack.stop().then(() => process.exit(130)));
  const logDir = mkdtempSync(join(tmpdir(), 'keygate-bench-log-'));
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    process.stdout.write(`${line}\n`);
  };
  try {
    const [org] = stack.creds.qwietOrgs;
    const member = await mintDevToken(JWT_SECRET, { subject: 'bench', team: 'bench' });
    const auditor = await mintDevToken(JWT_SECRET, {
      subject: 'auditor',
      team: 'security',
      roles: [GatewayRole.AUDITOR],
    });

    const startMeasured = async (databaseUrl?: string) => {
      const since = performance.now();
      const g = await stack.startGateway(databaseUrl ? { DATABASE_URL: databaseUrl } : {});
      const readyMs = await readyAfter(g.url, since);
      return { ...g, readyMs, rss: rssMiB(g.child.pid as number) };
    };

    // 2. The large ledger: a generated file log loaded by `keygate audit import`.
    const known: Known = { credentials: [], fingerprints: [] };
    let started = performance.now();
    await generateFileLog(logDir, RECORDS, known);
    say(
      `generated a file log of ${RECORDS.toLocaleString('en')} records in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    const bigUrl = await stack.createDatabase('keygate_bench_scale');
    keygate(['db', 'migrate'], bigUrl);
    started = performance.now();
    keygate(['audit', 'import', logDir], bigUrl);
    const importSeconds = (performance.now() - started) / 1000;
    say(
      `keygate audit import: ${RECORDS.toLocaleString('en')} records in ${importSeconds.toFixed(1)} s (${Math.round(RECORDS / importSeconds).toLocaleString('en')} records/s)`,
    );
    rmSync(logDir, { recursive: true, force: true });

    // 3. Start-up on it against an empty ledger, in turns (STARTS of each, after one start on
    // each that warms the file cache, as a restart would find it; separate starts of one build
    // differ by a few hundred ms on this machine, so one start of each says little). The last
    // start on the large ledger stays up for the load below.
    await stopChild((await startMeasured()).child);
    await stopChild((await startMeasured(bigUrl)).child);
    const starts = { empty: [] as number[], big: [] as number[] };
    const rss = { empty: [] as number[], big: [] as number[] };
    let big: Awaited<ReturnType<typeof startMeasured>> | undefined;
    for (let i = 0; i < STARTS; i++) {
      const e = await startMeasured();
      starts.empty.push(e.readyMs);
      rss.empty.push(e.rss);
      await stopChild(e.child);
      if (big) await stopChild(big.child);
      big = await startMeasured(bigUrl);
      starts.big.push(big.readyMs);
      rss.big.push(big.rss);
    }
    const ms = (values: number[]) => values.map((v) => v.toFixed(0)).join(', ');
    const [emptyReady, bigReady] = [median(starts.empty), median(starts.big)];
    say(
      `start-up to ready, ${STARTS} starts each in turns: empty ledger ${ms(starts.empty)} ms (median ${emptyReady.toFixed(0)}), ${RECORDS.toLocaleString('en')}-record ledger ${ms(starts.big)} ms (median ${bigReady.toFixed(0)}): ${(bigReady / emptyReady).toFixed(2)} × the empty ledger's (target ≤ 1.2); RSS at ready ${median(rss.big).toFixed(0)} MiB against ${median(rss.empty).toFixed(0)} (${(median(rss.big) - median(rss.empty)).toFixed(0)} MiB more; target ≤ 50)`,
    );
    if (!big) throw new Error('no start on the large ledger');
    const bigUrlOfGateway = big.url;

    // 4. Issuances alone, then with the auditors' queries running meanwhile.
    const issue = () =>
      new Promise<autocannon.Result>((resolve, reject) =>
        autocannon(
          {
            url: bigUrlOfGateway,
            connections: 8,
            duration: LOAD_SECONDS,
            requests: [
              {
                method: 'POST',
                path: `/qwiet/api/v4/orgs/${org.id}/tokens`,
                headers: { authorization: `Bearer ${member}`, 'content-type': 'application/json' },
                body: JSON.stringify({
                  label: 'ci-scale',
                  role_id: CI_ROLE_ID,
                  valid_for_seconds: 3600,
                }),
              },
            ],
          },
          (error: Error | null, result: autocannon.Result) =>
            error ? reject(error) : resolve(result),
        ),
      );
    await issue(); // warm-up

    const queries: Record<string, string> = {
      'matches nothing': `credential_id=${randomUUID()}`,
      'by team': `team=team-${TEAMS - 1}&limit=100`,
      'by credential id': `credential_id=${known.credentials[0]}`,
      'by fingerprint': `fingerprint=${known.fingerprints[0]}`,
    };
    const latencies: Record<string, number[]> = Object.fromEntries(
      Object.keys(queries).map((k) => [k, []]),
    );
    let loading = true;
    // One auditor: query after query (closed loop), or at `perSecond` (paced: a person at a console
    // or a SIEM's poller, not a load generator).
    const queryLoop = async (perSecond?: number) => {
      const started = performance.now();
      for (let i = 0; loading && i < 100_000; i++) {
        if (perSecond) {
          const due = started + (i * 1000) / perSecond;
          if (due > performance.now())
            await new Promise((resolve) => setTimeout(resolve, due - performance.now()));
          if (!loading) break;
        }
        const [name, query] = Object.entries(queries)[i % 4];
        const t = performance.now();
        const res = await fetch(`${bigUrlOfGateway}/v1/audit?${query}`, {
          headers: { authorization: `Bearer ${auditor}` },
        });
        const body = (await res.json()) as { records?: unknown[] };
        if (res.status !== 200) throw new Error(`GET /v1/audit?${query}: ${res.status}`);
        if (name !== 'matches nothing' && !body.records?.length)
          throw new Error(`GET /v1/audit?${query} found nothing`);
        latencies[name].push(performance.now() - t);
      }
    };
    const meanwhile = async (perSecond?: number) => {
      loading = true;
      const withQueries = issue();
      const loops = Promise.all([queryLoop(perSecond), queryLoop(perSecond)]);
      const loaded = await withQueries;
      loading = false;
      await loops;
      return loaded;
    };
    // Rounds in turns (alone, paced, back to back), ROUNDS of each: the machine's own drift over
    // minutes (two shared cores) falls on every kind alike; the medians are compared.
    const runs = {
      alone: [] as autocannon.Result[],
      paced: [] as autocannon.Result[],
      closed: [] as autocannon.Result[],
    };
    for (let round = 0; round < ROUNDS; round++) {
      runs.alone.push(await issue());
      runs.paced.push(await meanwhile(QUERIES_PER_SECOND));
      runs.closed.push(await meanwhile());
    }
    const p99 = (kind: keyof typeof runs) => median(runs[kind].map((r) => r.latency.p99));
    const issuances = (what: string, kind: keyof typeof runs) =>
      `${what}: p99 ${runs[kind].map((r) => r.latency.p99).join(', ')} ms (median ${p99(kind)}${kind === 'alone' ? '' : `, ${(p99(kind) / p99('alone')).toFixed(2)} × alone; target ≤ 1.2`}), ${median(runs[kind].map((r) => r.requests.average)).toFixed(0)} req/s`;
    say(
      `issuances (Qwiet create, 8 connections, ${LOAD_SECONDS} s a run, ${ROUNDS} rounds in turns): ${issuances('alone', 'alone')}; ${issuances(`with two auditors querying ${QUERIES_PER_SECOND} times a second each`, 'paced')}; ${issuances('with two auditors querying back to back', 'closed')}`,
    );
    for (const [name, times] of Object.entries(latencies))
      say(
        `GET /v1/audit ${name} (every run with queries): ${times.length} queries, p50 ${percentile(times, 0.5).toFixed(1)} ms, p99 ${percentile(times, 0.99).toFixed(1)} ms (target ≤ 50)`,
      );

    const outDir = join(ROOT, 'bench-results');
    mkdirSync(outDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    writeFileSync(join(outDir, `scale-${stamp}.md`), `${lines.map((l) => `- ${l}`).join('\n')}\n`);
    process.stdout.write(`results: bench-results/scale-${stamp}.md\n`);
  } finally {
    rmSync(logDir, { recursive: true, force: true });
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
