/**
 * npm run bench: the gateway (real configuration: JWT, validation, policy, the audit ledger on
 * PostgreSQL with synchronous_commit on) against a raw node:http forwarder over the same
 * simulator, interleaved, on loopback. Bounded in time; results in bench-results/ (git-ignored)
 * as JSON and Markdown.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { AuditFileSink, verifyAuditLog } from '@app/audit';
import { GatewayRole, mintDevToken } from '@app/auth';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { freePort, ROOT } from '../test/support/processes';
import { AUDIT_KEY, cpuSeconds, JWT_SECRET, startStack, verifyStoredLedger } from './stack';

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 32;
const STRONG = 'Xk#9vQ!2mWp$7rTz';

/**
 * No "durability off" gateway: PgLedgerSink sets synchronous_commit on for its own session, so no
 * database setting can turn the ledger's commit wait off (README, Performance).
 */
type Target = 'baseline' | 'Nest floor' | 'gateway' | 'simulator';
interface Scenario {
  name: string;
  method: 'GET' | 'POST';
  /** Path on Keygate and the forwarder; `direct` is the simulator's own path. */
  path: string;
  direct: string;
  /** A fixed body, or one made for each request (autocannon then rebuilds every request). */
  body?: string | ((n: number) => string);
  expect: number;
  targets: Target[];
}
interface Measure {
  scenario: string;
  target: Target;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU µs a request of the process measured (and of PostgreSQL, for the gateway), from /proc. */
  cpuUs?: number;
  pgCpuUs?: number;
}

async function main(): Promise<void> {
  const stack = await startStack(
    [
      'rules:',
      '  qwiet: { max_lifetime: { max_seconds: 86400 }, lifetime_required: {}, allowed_token_types: { token_types: [access, integration] } }',
      '  octane: { max_expiration: { max_days: 90 }, expiration_required: {}, secret_strength: { min_length: 16, min_classes: 4, forbid_name: true, forbid_common: true } }',
    ].join('\n'),
  );
  process.once('SIGINT', () => void stack.stop().then(() => process.exit(130)));
  const { creds } = stack;
  const [org, otherOrg] = creds.qwietOrgs;
  const space = creds.octaneSpaces[0];
  try {
    const sim = stack.simUrl;
    const urls: Partial<Record<Target, string>> = { simulator: sim };
    const durable = await stack.startGateway();
    urls.gateway = durable.url;
    const pids: Partial<Record<Target, number>> = { gateway: durable.child.pid };
    const fwdPort = await freePort();
    pids.baseline = (
      await stack.spawn(
        'bench/raw-forwarder.ts',
        { ...stack.vendorEnv, PORT: String(fwdPort) },
        'raw forwarder listening',
      )
    ).pid;
    urls.baseline = `http://127.0.0.1:${fwdPort}`;
    const floorPort = await freePort();
    pids['Nest floor'] = (
      await stack.spawn(
        'bench/nest-floor.ts',
        { ...stack.vendorEnv, PORT: String(floorPort) },
        'nest floor listening',
      )
    ).pid;
    urls['Nest floor'] = `http://127.0.0.1:${floorPort}`;

    const jwt = await mintDevToken(JWT_SECRET, { subject: 'bench', team: 'bench' });
    const cookie = await octaneCookie(sim, space.clientId, space.clientSecret);
    const expiration = new Date(Date.now() + 30 * 86400_000).toISOString();
    const qwietCreate = JSON.stringify({
      label: 'ci-bench',
      role_id: CI_ROLE_ID,
      token_type: 'access',
      valid_for_seconds: 3600,
    });
    const scenarios: Scenario[] = [
      {
        name: 'Qwiet token create',
        method: 'POST',
        path: `/qwiet/api/v4/orgs/${org.id}/tokens`,
        direct: `/api/v4/orgs/${org.id}/tokens`,
        body: qwietCreate,
        expect: 200,
        targets: ['baseline', 'Nest floor', 'gateway'],
      },
      {
        name: 'Qwiet token list',
        method: 'GET',
        path: `/qwiet/api/v4/orgs/${otherOrg.id}/tokens`,
        direct: `/api/v4/orgs/${otherOrg.id}/tokens`,
        expect: 200,
        targets: ['baseline', 'Nest floor', 'gateway'],
      },
      {
        name: 'Octane api_access create',
        method: 'POST',
        path: `/octane/api/shared_spaces/${space.id}/api_accesses`,
        direct: `/api/shared_spaces/${space.id}/api_accesses`,
        body: (n) =>
          JSON.stringify({
            data: [
              {
                name: `bench${n}_${Math.random().toString(36).slice(2, 8)}`,
                client_secret: STRONG,
                expiration,
              },
            ],
          }),
        expect: 201,
        targets: ['baseline', 'gateway'],
      },
      {
        name: 'Policy denial (Qwiet, lifetime over the cap)',
        method: 'POST',
        path: `/qwiet/api/v4/orgs/${org.id}/tokens`,
        direct: '',
        body: JSON.stringify({ label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 999999 }),
        expect: 403,
        targets: ['gateway'],
      },
    ];
    const headersFor = (target: Target): Record<string, string> =>
      target === 'simulator'
        ? {
            authorization: `Bearer ${org.adminToken}`,
            cookie,
            'alm-octane-tech-preview': 'true',
            'content-type': 'application/json',
          }
        : { authorization: `Bearer ${jwt}`, 'content-type': 'application/json' };

    // CPU time from /proc around each load: the process measured, and PostgreSQL's for the gateway.
    const load = async (
      scenario: Scenario,
      target: Target,
      connections: number,
      seconds: number,
    ): Promise<Measure> => {
      const pid = pids[target];
      const cpu = pid ? cpuSeconds(pid) : 0;
      const pg = stack.postgresCpuSeconds();
      const { total, ...m } = await measure(
        urls[target] as string,
        target === 'simulator' ? scenario.direct : scenario.path,
        scenario,
        headersFor(target),
        connections,
        seconds,
      );
      const perRequest = (s: number) => Math.round((s * 1e6) / Math.max(total, 1));
      return {
        ...m,
        scenario: scenario.name,
        target,
        connections,
        ...(pid && { cpuUs: perRequest(cpuSeconds(pid) - cpu) }),
        ...(target === 'gateway' && { pgCpuUs: perRequest(stack.postgresCpuSeconds() - pg) }),
      };
    };

    // Measured first, while this process is fresh (autocannon's histograms make GC busy later).
    const verify = await verifyThroughput();
    process.stdout.write(`warming up...\n`);
    for (const scenario of scenarios)
      for (const target of scenario.targets) await load(scenario, target, CONNECTIONS, 1);

    const results: Measure[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const scenario of scenarios) {
        for (const target of scenario.targets) {
          const m = await load(scenario, target, CONNECTIONS, DURATION_S);
          results.push(m);
          process.stdout.write(
            `round ${round}  ${scenario.name.padEnd(46)} ${target.padEnd(20)} ${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50} ms  p99 ${m.p99} ms  errors ${m.errors}  CPU ${m.cpuUs ?? '-'} µs${m.pgCpuUs === undefined ? '' : ` + PostgreSQL ${m.pgCpuUs} µs`}\n`,
          );
        }
      }
    }
    const unloaded: Unloaded[] = [];
    const admin = await mintDevToken(JWT_SECRET, {
      subject: 'bench-admin',
      team: 'bench',
      roles: [GatewayRole.ADMIN],
    });
    const timings = () => gatewayTimings(durable.url, admin);
    const before = await timings();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of ['simulator', 'baseline', 'Nest floor', 'gateway'] as Target[]) {
        const [scenario] = scenarios;
        const path = target === 'simulator' ? scenario.direct : scenario.path;
        unloaded.push({
          target,
          ...(await oneAtATime(urls[target] as string, path, scenario, headersFor(target))),
        });
      }
    }
    const after = await timings();
    const requests = ROUNDS * UNLOADED_REQUESTS;
    const split: UnloadedSplit = {
      ledgerMs: ((after.ledger - before.ledger) / requests) * 1000,
      vendorMs: ((after.vendor - before.vendor) / requests) * 1000,
    };

    const report = summarise(results, unloaded, split, verify);
    const outDir = join(ROOT, 'bench-results');
    mkdirSync(outDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    writeFileSync(
      join(outDir, `bench-${stamp}.json`),
      JSON.stringify({ results, unloaded, split, verify, report }, null, 2),
    );
    writeFileSync(join(outDir, `bench-${stamp}.md`), report.markdown);
    process.stdout.write(`\n${report.markdown}\nresults: bench-results/bench-${stamp}.{json,md}\n`);
    const audited = await verifyStoredLedger(durable.databaseUrl);
    process.stdout.write(
      `audit ledger of the gateway (PostgreSQL): ${audited.ok ? 'verifies' : `BROKEN: ${audited.problem?.message}`}, ${audited.records} records, head ${audited.head}\n`,
    );
    if (!audited.ok) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

async function octaneCookie(sim: string, clientId: string, clientSecret: string): Promise<string> {
  const res = await fetch(`${sim}/authentication/sign_in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: clientId, client_secret: clientSecret }),
  });
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

function measure(
  url: string,
  path: string,
  scenario: Scenario,
  headers: Record<string, string>,
  connections: number,
  seconds: number,
) {
  let n = 0;
  return new Promise<Pick<Measure, 'rps' | 'p50' | 'p99' | 'errors'> & { total: number }>(
    (resolve, reject) => {
      autocannon(
        {
          url,
          connections,
          duration: seconds,
          requests: [
            {
              method: scenario.method,
              path,
              headers,
              ...(typeof scenario.body === 'string' && { body: scenario.body }),
              ...(typeof scenario.body === 'function' && {
                setupRequest: (req: autocannon.Request) => ({
                  ...req,
                  body: (scenario.body as (n: number) => string)(n++),
                }),
              }),
            },
          ],
        },
        (error: Error | null, result: autocannon.Result) => {
          if (error) return reject(error);
          const statuses =
            (result as unknown as { statusCodeStats?: Record<string, { count: number }> })
              .statusCodeStats ?? {};
          const unexpected = Object.entries(statuses)
            .filter(([code]) => Number(code) !== scenario.expect)
            .reduce((sum, [, s]) => sum + s.count, 0);
          resolve({
            rps: result.requests.average,
            total: result.requests.total,
            p50: result.latency.p50,
            p99: result.latency.p99,
            errors: result.errors + result.timeouts + unexpected,
          });
        },
      );
    },
  );
}

const UNLOADED_REQUESTS = 2000;
const unloadedAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** Where an unloaded request's time goes, by the gateway's own metrics (ms a request, mean). */
interface UnloadedSplit {
  /** The ledger's batches (round trip and commit; PgLedgerSink reports no separate sync step). */
  ledgerMs: number;
  vendorMs: number;
}

/** Seconds the gateway has spent so far writing the ledger and in Qwiet token creates (its histograms' sums). */
async function gatewayTimings(
  url: string,
  jwt: string,
): Promise<{ ledger: number; vendor: number }> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${jwt}` } });
  const text = await res.text();
  const sum = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
  return {
    ledger: sum(/^keygate_audit_write_seconds_sum\{step="write"\} (\S+)$/m),
    vendor: sum(
      /^keygate_vendor_request_duration_seconds_sum\{[^}]*operation="qwiet\.tokens\.create",outcome="200"\} (\S+)$/m,
    ),
  };
}

interface Unloaded {
  target: Target;
  p50: number;
  p99: number;
  errors: number;
}

/** Latency with nothing else in flight, to the microsecond (autocannon rounds to milliseconds). */
async function oneAtATime(
  url: string,
  path: string,
  scenario: Scenario,
  headers: Record<string, string>,
): Promise<Omit<Unloaded, 'target'>> {
  const times: number[] = [];
  let errors = 0;
  for (let i = 0; i < UNLOADED_REQUESTS; i++) {
    const body = typeof scenario.body === 'function' ? scenario.body(i) : scenario.body;
    const started = process.hrtime.bigint();
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        `${url}${path}`,
        { method: scenario.method, headers, agent: unloadedAgent },
        (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0)),
      );
      req.on('error', reject);
      req.end(body);
    });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (status !== scenario.expect) errors++;
  }
  times.sort((a, b) => a - b);
  return {
    p50: times[Math.floor(times.length / 2)],
    p99: times[Math.floor(times.length * 0.99)],
    errors,
  };
}

async function verifyThroughput(): Promise<{
  records: number;
  seconds: number;
  perSecond: number;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-verify-'));
  const sink = await AuditFileSink.open({
    dir,
    segmentBytes: 64 * 1024 * 1024,
    hmacKey: AUDIT_KEY,
    fsync: false,
  });
  const batch = Array.from({ length: 1000 }, (_, i) => ({
    request_id: `bench-${i}`,
    event: 'qwiet.token.issue' as const,
    phase: 'succeeded' as const,
    actor: { subject: 'bench', team: 'bench', ip: '127.0.0.1', user_agent: 'autocannon' },
    target: {
      vendor: 'qwiet' as const,
      org_id: '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42',
      credential_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6',
      label: 'ci-bench',
      role_ids: [CI_ROLE_ID],
      token_type: 'access',
      lifetime_requested: 3600,
      lifetime_effective: 3600,
    },
    decision: {
      allowed: true,
      violations: [],
      warnings: [],
      policy_revision: `sha256:${'a'.repeat(64)}`,
    },
    vendor: { status: 200, latency_ms: 1.2 },
    fingerprint: `hmac-sha256:${'b'.repeat(64)}`,
  }));
  for (let i = 0; i < 300; i++) await sink.append(batch);
  await sink.close();
  const started = process.hrtime.bigint();
  const result = verifyAuditLog(dir, AUDIT_KEY);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!result.ok) throw new Error('the generated log does not verify');
  return { records: result.records, seconds, perSecond: result.records / seconds };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

function summarise(
  results: Measure[],
  unloaded: Unloaded[],
  split: UnloadedSplit,
  verify: { records: number; seconds: number; perSecond: number },
) {
  const by = (scenario: string, target: Target) =>
    results.filter((r) => r.scenario === scenario && r.target === target);
  const rows: string[] = [];
  const scenarios = [...new Set(results.map((r) => r.scenario))];
  const ratios: Record<string, number> = {};
  const floors: Record<string, number> = {};
  const cpus: Record<string, { gateway: number; pg: number }> = {};
  for (const scenario of scenarios) {
    const base = median(by(scenario, 'baseline').map((r) => r.rps));
    for (const target of ['baseline', 'Nest floor', 'gateway'] as Target[]) {
      const runs = by(scenario, target);
      if (runs.length === 0) continue;
      const rps = median(runs.map((r) => r.rps));
      const ratio = base ? rps / base : undefined;
      if (ratio !== undefined && target === 'gateway') ratios[scenario] = ratio;
      if (ratio !== undefined && target === 'Nest floor') floors[scenario] = ratio;
      const cpu = runs[0].cpuUs === undefined ? undefined : median(runs.map((r) => r.cpuUs ?? 0));
      const pg =
        runs[0].pgCpuUs === undefined ? undefined : median(runs.map((r) => r.pgCpuUs ?? 0));
      if (target === 'gateway' && cpu !== undefined) cpus[scenario] = { gateway: cpu, pg: pg ?? 0 };
      rows.push(
        `| ${scenario} | ${target} | ${rps.toFixed(0)} | ${median(runs.map((r) => r.p50))} | ${median(runs.map((r) => r.p99))} | ${runs.reduce((s, r) => s + r.errors, 0)} | ${ratio === undefined ? '-' : ratio.toFixed(2)} | ${cpu ?? '-'} | ${pg ?? '-'} |`,
      );
    }
  }
  const create = 'Qwiet token create';
  const directP50 = median(unloaded.filter((r) => r.target === 'simulator').map((r) => r.p50));
  const gatewayP50 = median(unloaded.filter((r) => r.target === 'gateway').map((r) => r.p50));
  const markdown = [
    `## Keygate benchmark (${new Date().toISOString()}, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION_S} s, median shown)`,
    '',
    '| scenario | target | req/s | p50 ms | p99 ms | errors | ratio to baseline | CPU µs/req | PostgreSQL CPU µs/req |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `- Qwiet create through the full gateway: **${(ratios[create] ?? 0).toFixed(2)}** of the raw forwarder (target 0.35); NestJS on Fastify forwarding alone, with no check, log or audit: ${(floors[create] ?? 0).toFixed(2)}.`,
    ...Object.entries(cpus).map(
      ([scenario, c]) =>
        `- ${scenario}: the gateway spends ${c.gateway} µs of CPU a request and PostgreSQL ${c.pg} µs (from /proc, while loaded): 10,000 a second would need about **${((c.gateway * 10_000) / 1e6).toFixed(1)} cores of gateway instances and ${((c.pg * 10_000) / 1e6).toFixed(1)} of PostgreSQL** (on paper: this machine has 2 cores, shared by the load generator and the simulator).`,
    ),
    `- The audit ledger is PostgreSQL, two commits per issuance (attempt, outcome), synchronous_commit on (the sink sets it: there is no durability-off gateway to compare with).`,
    `- Unloaded (one request at a time, ${UNLOADED_REQUESTS} a round) Qwiet create p50: simulator direct ${directP50.toFixed(3)} ms, through Keygate ${gatewayP50.toFixed(3)} ms: added **${(gatewayP50 - directP50).toFixed(2)} ms** (target at most 1.0 ms); p99 through Keygate ${median(unloaded.filter((r) => r.target === 'gateway').map((r) => r.p99)).toFixed(3)} ms; errors ${unloaded.reduce((sum, r) => sum + r.errors, 0)}.`,
    `  By the gateway's own metrics (means a request): the two ledger commits ${split.ledgerMs.toFixed(3)} ms, the vendor call as the gateway sees it (axios, socket, simulator) ${split.vendorMs.toFixed(3)} ms; the rest is the gateway's own work and event-loop turns.`,
    `- \`keygate audit verify DIR\` (the file export format): ${verify.records} records in ${verify.seconds.toFixed(2)} s = **${Math.round(verify.perSecond)} records/s** (target 200,000); the ledger in PostgreSQL (\`verify --db\`): \`npm run bench:ledger\`.`,
    '',
  ].join('\n');
  return {
    markdown,
    cpus,
    ratios,
    floors,
    addedLatencyMs: gatewayP50 - directP50,
    verifyPerSecond: verify.perSecond,
  };
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
