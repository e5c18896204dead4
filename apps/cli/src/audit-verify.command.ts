import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseCheckpoint, verifyAuditLog } from '@app/audit';
import { verifyLedgerStream } from '@app/ledger';
import { onDatabase } from './database';

export const AUDIT_VERIFY_USAGE = `keygate audit verify [DIR|FILE] [--json] [--no-head] [--anchor SEQ:HASH] [--checkpoint SEQ:HASH[:MAC]]
  Walks the hash chain of an audit directory (default: AUDIT_DIR, else .keygate/audit) or of one
  segment file; it must start at seq 1 (or right after --anchor, the seq and hash of the record
  before the first one given). Checks the head file's MAC with AUDIT_HMAC_KEY (or the embedded
  default's key): a missing head, or none to check it with, fails unless --no-head. --checkpoint
  (from the gateway's "audit checkpoint" log line, or that whole line) must still be in the log.
  Names the first record that is altered, missing, reordered, malformed or truncated. Exit status
  1 when the chain is broken or unproven.
keygate audit verify --db [--json] [--no-head] [--anchor SEQ:HASH] [--checkpoint SEQ:HASH[:MAC]]
  The same rules on the PostgreSQL ledger at DATABASE_URL, streamed in pages of one snapshot:
  the head (ledger_head) is checked with AUDIT_HMAC_KEY; --anchor verifies the records after it.`;

/** `SEQ:HASH` of --anchor. */
const parsePoint = (text: string) => {
  const match = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text);
  return match ? { seq: Number(match[1]), hash: match[2] } : undefined;
};

type Parsed =
  | { error: { output: string; status: number } }
  | {
      values: { json?: boolean; 'no-head'?: boolean; db?: boolean };
      positionals: string[];
      anchor?: { seq: number; hash: string };
      checkpoint?: ReturnType<typeof parseCheckpoint>;
    };

/** The options both forms share (`--db` or a path). */
function parseVerifyArgs(args: string[]): Parsed {
  const { values, positionals } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      'no-head': { type: 'boolean' },
      anchor: { type: 'string' },
      checkpoint: { type: 'string' },
      db: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > (values.db ? 0 : 1))
    return { error: { output: `usage: ${AUDIT_VERIFY_USAGE}`, status: 2 } };
  const anchor = values.anchor === undefined ? undefined : parsePoint(values.anchor);
  if (values.anchor !== undefined && !anchor)
    return {
      error: {
        output: '--anchor must be SEQ:HASH (the record before the first one given)',
        status: 2,
      },
    };
  const checkpoint =
    values.checkpoint === undefined ? undefined : parseCheckpoint(values.checkpoint);
  if (values.checkpoint !== undefined && !checkpoint)
    return {
      error: {
        output: '--checkpoint must be SEQ:HASH[:MAC] or an "audit checkpoint" log line',
        status: 2,
      },
    };
  return { values, positionals, anchor, checkpoint };
}

/** `keygate audit verify DIR|FILE`: the report to print and the exit status. */
export function auditVerifyCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
): { output: string; status: number } {
  const parsed = parseVerifyArgs(args);
  if ('error' in parsed) return parsed.error;
  const { values, positionals, anchor, checkpoint } = parsed;
  if (values.db) return { output: 'keygate audit verify --db: see runAuditVerify', status: 2 };
  const path = positionals[0] ?? env.AUDIT_DIR ?? '.keygate/audit';
  if (!existsSync(path)) return { output: `${path}: no such file or directory`, status: 1 };
  const started = process.hrtime.bigint();
  const result = verifyAuditLog(path, env.AUDIT_HMAC_KEY || undefined, {
    noHead: values['no-head'] === true,
    anchor,
    checkpoint,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (values.json)
    return {
      output: JSON.stringify({ path, ...result, seconds }, null, 2),
      status: result.ok ? 0 : 1,
    };
  const lines = [
    `${path}: ${result.ok ? 'OK' : 'BROKEN'}`,
    `  records:  ${result.records} in ${result.segments} segment(s), checked in ${seconds.toFixed(3)} s`,
    ...(result.first ? [`  first:    seq ${result.first.seq} at ${result.first.time}`] : []),
    ...(result.last ? [`  last:     seq ${result.last.seq} at ${result.last.time}`] : []),
    `  head:     ${result.head}`,
    ...(result.checkpoint ? [`  checkpoint: ${result.checkpoint}`] : []),
    ...(result.problem
      ? [
          `  problem:  ${result.problem.kind} at ${result.problem.segment} line ${result.problem.line}: ${result.problem.message}`,
        ]
      : []),
    `  proves:   ${result.proves}`,
  ];
  return { output: lines.join('\n'), status: result.ok ? 0 : 1 };
}

/** `keygate audit verify --db`: the PostgreSQL ledger at DATABASE_URL, streamed. */
export async function auditVerifyDbCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ output: string; status: number }> {
  const parsed = parseVerifyArgs(args);
  if ('error' in parsed) return parsed.error;
  const { values, anchor, checkpoint } = parsed;
  return onDatabase(env, { max: 3, applicationName: 'keygate-verify' }, async (database) => {
    const started = process.hrtime.bigint();
    const result = await verifyLedgerStream(database, {
      key: env.AUDIT_HMAC_KEY || undefined,
      noHead: values['no-head'] === true,
      anchor,
      checkpoint,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const perSecond = seconds > 0 ? Math.round(result.records / seconds) : 0;
    if (values.json)
      return {
        output: JSON.stringify(
          { database: database.safeUrl, ...result, seconds, records_per_second: perSecond },
          null,
          2,
        ),
        status: result.ok ? 0 : 1,
      };
    const lines = [
      `${database.safeUrl}: ${result.ok ? 'OK' : 'BROKEN'}`,
      `  records:  ${result.records}, checked in ${seconds.toFixed(3)} s (${perSecond} records/s)`,
      ...(result.first ? [`  first:    seq ${result.first.seq} at ${result.first.time}`] : []),
      ...(result.last ? [`  last:     seq ${result.last.seq} at ${result.last.time}`] : []),
      `  head:     ${result.head}`,
      ...(result.checkpoint ? [`  checkpoint: ${result.checkpoint}`] : []),
      ...(result.problem
        ? [
            `  problem:  ${result.problem.kind}${result.problem.seq === undefined ? '' : ` at seq ${result.problem.seq}`}: ${result.problem.message}`,
          ]
        : []),
      `  proves:   ${result.proves}`,
    ];
    return { output: lines.join('\n'), status: result.ok ? 0 : 1 };
  });
}

/** `keygate audit verify`, either form. */
export function runAuditVerify(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ output: string; status: number }> {
  return args.includes('--db')
    ? auditVerifyDbCommand(args, env)
    : Promise.resolve(auditVerifyCommand(args, env));
}
