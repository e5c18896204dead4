/**
 * npm run soak: the gateway under steady mixed traffic for SOAK_SECONDS (default 45) while the
 * simulator injects 5xx answers, connection resets, latency spikes, lost answers and Octane session
 * expiries. Loopback only; stops by itself. Checks that the gateway keeps answering, memory stays
 * flat, nothing is left unhandled, the audit ledger (PostgreSQL) verifies, and every credential the
 * simulator issued has an outcome record in it. Exits 1 when a check fails.
 */
import { mintDevToken } from '@app/auth';
import { CI_ROLE_ID } from '@app/upstream-sim';
import {
  accountedCredentialIds,
  JWT_SECRET,
  ledgerRecords,
  Stack,
  startStack,
  stopChild,
  verifyStoredLedger,
} from './stack';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 45);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 8);
const FAULT_EVERY_MS = 1500;
const FAULT_OPS = [
  'qwiet.tokens.create',
  'qwiet.tokens.list',
  'qwiet.tokens.delete',
  'octane.api_accesses.create',
  'octane.api_accesses.update',
  'octane.api_accesses.list',
  'octane.sign_in',
];
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)];
type FaultKind = 'status' | 'reset' | 'latency' | 'lost_answer' | 'expire_session';
/** SOAK_FAULTS=lost_answer,reset narrows the faults injected (default: all, 5xx twice as often). */
const FAULT_KINDS = (process.env.SOAK_FAULTS?.split(',') ?? [
  'status',
  'status',
  'reset',
  'latency',
  'lost_answer',
  'expire_session',
]) as FaultKind[];

interface Credential {
  id: string;
  seeded: boolean;
}

/** Credentials the simulator issued that no succeeded or compensated record of the ledger names. */
async function unaccountedIn<T extends Credential>(issued: T[], ledgerUrl: string): Promise<T[]> {
  const accounted = await accountedCredentialIds(ledgerUrl);
  return issued.filter((c) => !c.seeded && !accounted.has(c.id));
}

async function main(): Promise<void> {
  const stack = await startStack();
  process.once('SIGINT', () => void stack.stop().then(() => process.exit(130)));
  try {
    process.exitCode = await soak(stack);
  } finally {
    await stack.stop();
  }
}

async function soak(stack: Stack): Promise<number> {
  const gateway = await stack.startGateway({
    UPSTREAM_TIMEOUT_MS: '5000',
    RATE_LIMIT_PER_MINUTE: '1000000',
    LOG_LEVEL: 'warn',
  });
  let childOutput = '';
  gateway.child.stdout?.on(
    'data',
    (d: Buffer) => (childOutput += d.toString().includes('nhandled') ? d.toString() : ''),
  );
  gateway.child.stdout?.on(
    'data',
    (d: Buffer) =>
      process.env.SOAK_DEBUG &&
      process.stdout.write(
        d
          .toString()
          .split('\n')
          .filter((l) => l.includes('"level":50'))
          .join('\n'),
      ),
  );
  gateway.child.stderr?.on('data', (d: Buffer) => (childOutput += d.toString()));
  let exitedEarly = false;
  gateway.child.once('exit', () => (exitedEarly = true));

  const token = await mintDevToken(JWT_SECRET, { subject: 'soak', team: 'bench' });
  const admin = await mintDevToken(JWT_SECRET, {
    subject: 'soak-admin',
    team: 'bench',
    roles: ['keygate:admin'],
  });
  const org = stack.creds.qwietOrgs[0].id;
  const space = stack.creds.octaneSpaces[0].id;
  const deadline = Date.now() + SECONDS * 1000;
  const statuses = new Map<string, number>();
  const faults = new Map<string, number>();
  const memory: number[] = [];
  const heapUsed: number[] = [];
  let served = 0;

  const unaccountedNow = async () => {
    const now = (await (await fetch(`${stack.simUrl}/__sim/state`)).json()) as {
      qwiet: { tokens: Credential[] };
      octane: { api_accesses: Credential[] };
    };
    return unaccountedIn([...now.qwiet.tokens, ...now.octane.api_accesses], gateway.databaseUrl);
  };

  const call = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${gateway.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    const code = String(json.code ?? json.error_code ?? '');
    const key = `${res.status}${res.status >= 400 && code ? ` ${code}` : ''}`;
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    served++;
    return { status: res.status, body: json };
  };

  const worker = async (w: number) => {
    for (let i = 0; Date.now() < deadline; i++) {
      try {
        if (i % 2 === 0) {
          const issued = await call('POST', `/qwiet/api/v4/orgs/${org}/tokens`, {
            label: `soak-${w}-${i}`,
            role_id: CI_ROLE_ID,
            token_type: 'access',
            valid_for_seconds: 3600,
          });
          const id = (issued.body.response as { id?: string } | undefined)?.id;
          if (id && i % 4 === 0) await call('DELETE', `/qwiet/api/v4/orgs/${org}/tokens/${id}`);
          await call('GET', `/qwiet/api/v4/orgs/${org}/tokens?token_type=integration`);
        } else {
          const created = await call('POST', `/octane/api/shared_spaces/${space}/api_accesses`, {
            data: [
              { name: `soak${w}x${i}`, expiration: new Date(Date.now() + 86400_000).toISOString() },
            ],
          });
          const id = (created.body.data as { id?: string }[] | undefined)?.[0]?.id;
          if (id)
            await call(
              'PUT',
              `/octane/api/shared_spaces/${space}/api_accesses/${id}`,
              i % 3 === 0 ? { is_valid: true } : { is_valid: false },
            );
          await call('GET', `/octane/api/shared_spaces/${space}/roles?limit=5`);
        }
      } catch (error) {
        statuses.set(
          `transport ${(error as Error).name}`,
          (statuses.get(`transport ${(error as Error).name}`) ?? 0) + 1,
        );
      }
    }
  };

  const injector = async () => {
    while (Date.now() < deadline - FAULT_EVERY_MS) {
      const op = pick(FAULT_OPS);
      const kind = pick(FAULT_KINDS);
      const fault =
        kind === 'status'
          ? { op, kind, status: pick([500, 502, 503]), times: 2 }
          : kind === 'latency'
            ? { op, kind, latency_ms: 300 + Math.floor(Math.random() * 500), times: 3 }
            : kind === 'expire_session'
              ? { op: pick(FAULT_OPS.filter((o) => o.startsWith('octane.api'))), kind, times: 1 }
              : {
                  op:
                    kind === 'lost_answer'
                      ? pick(['qwiet.tokens.create', 'octane.api_accesses.create'])
                      : op,
                  kind,
                  times: 1,
                };
      await fetch(`${stack.simUrl}/__sim/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(fault),
      });
      faults.set(fault.kind, (faults.get(fault.kind) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, FAULT_EVERY_MS));
    }
  };

  const sampler = async () => {
    while (Date.now() < deadline) {
      const text = await (
        await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } })
      ).text();
      const rss = /^process_resident_memory_bytes (\d+)/m.exec(text);
      const heap = /^nodejs_heap_size_used_bytes (\d+)/m.exec(text);
      if (rss) memory.push(Number(rss[1]));
      if (heap) heapUsed.push(Number(heap[1]));
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  };

  process.stdout.write(
    `soak: ${SECONDS} s, ${WORKERS} workers, a fault every ${FAULT_EVERY_MS} ms, loopback only\n`,
  );
  await Promise.all([
    ...Array.from({ length: WORKERS }, (_, w) => worker(w)),
    injector(),
    sampler(),
  ]);
  await fetch(`${stack.simUrl}/__sim/faults`, { method: 'DELETE' });
  // Let retried and reconciled requests settle: one last read through the gateway must answer.
  const alive =
    !exitedEarly && (await call('GET', `/qwiet/api/v4/orgs/${org}/roles`)).status === 200;

  // Lost answers are checked again in the background: give them (bounded) time to settle.
  const settleBy = Date.now() + 30_000;
  while (Date.now() < settleBy && (await unaccountedNow()).length > 0)
    await new Promise((resolve) => setTimeout(resolve, 1000));

  const state = (await (await fetch(`${stack.simUrl}/__sim/state`)).json()) as {
    qwiet: { tokens: { id: string; seeded: boolean; label: string }[] };
    octane: { api_accesses: { id: string; seeded: boolean; name: string }[] };
  };
  const crashed = exitedEarly;
  // The gateway stops first (its shutdown records what was in flight); the database stays up for
  // the checks, and startStack's caller stops it.
  await stopChild(gateway.child);

  const verify = await verifyStoredLedger(gateway.databaseUrl);
  const records = await ledgerRecords(gateway.databaseUrl);
  const issued = [...state.qwiet.tokens, ...state.octane.api_accesses].filter((c) => !c.seeded);
  const unaccounted = await unaccountedIn(issued, gateway.databaseUrl);
  const third = Math.max(1, Math.floor(memory.length / 3));
  const early = Math.max(...memory.slice(0, third));
  const late = Math.max(...memory.slice(-third));
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

  const checks = {
    'the gateway kept answering': alive,
    'nothing unhandled (no crash, no unhandled rejection)':
      !crashed && !/unhandled/i.test(childOutput),
    'the audit ledger verifies': verify.ok,
    'every credential the simulator issued has an outcome record': unaccounted.length === 0,
    'memory stays flat (late peak within 1.5x of the early peak)':
      memory.length >= 3 && late <= early * 1.5,
  };
  const lines = [
    '',
    `requests served: ${served} in ${SECONDS} s (${(served / SECONDS).toFixed(0)}/s)`,
    `faults injected: ${[...faults].map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `answers by status and code: ${[...statuses]
      .sort()
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}`,
    `credentials issued by the simulator: ${issued.length}; with an outcome record: ${issued.length - unaccounted.length}`,
    `audit ledger (PostgreSQL): ${verify.records} records, ${verify.ok ? `chain verifies, head ${verify.head}` : `BROKEN: ${verify.problem?.message}`}`,
    `gateway RSS: early peak ${mb(early)}, late peak ${mb(late)} (${memory.length} samples); heap used: ${heapUsed.map(mb).join(' ')}`,
    '',
    ...Object.entries(checks).map(([name, ok]) => `${ok ? 'PASS' : 'FAIL'}  ${name}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  for (const c of unaccounted) {
    const name = 'label' in c ? c.label : c.name;
    const related = records
      .filter((r) => r.target.label === name || r.target.name === name)
      .map(
        (r) => `${r.event} ${r.phase} ${r.vendor?.status ?? r.vendor?.error ?? ''} ${r.note ?? ''}`,
      );
    process.stdout.write(
      `unaccounted: ${c.id} (${name}): ${related.join(' | ') || 'no record names it'}\n`,
    );
  }
  if (childOutput) process.stdout.write(`gateway stderr:\n${childOutput.slice(0, 3000)}\n`);
  return Object.values(checks).every(Boolean) ? 0 : 1;
}

main().then(
  () => process.exit(), // with process.exitCode; idle keep-alive sockets would hold it open
  (error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
