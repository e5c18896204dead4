import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyAuditLog } from '@app/audit';
import { DEV_AUDIT_KEY_FILE } from '@app/auth';

export const AUDIT_VERIFY_USAGE = `keygate audit verify [DIR|FILE] [--json]
  Walks the hash chain of an audit directory (default: AUDIT_DIR, else .keygate/audit) or of one
  segment file; checks the head file's MAC with AUDIT_HMAC_KEY (or the embedded default's key). Names the first record that
  is altered, missing, reordered, malformed or truncated. Exit status 1 when the chain is broken.`;

/** The embedded default's audit key, when this checkout has one (never created here). */
const devAuditKey = (): string | undefined =>
  existsSync(DEV_AUDIT_KEY_FILE) ? readFileSync(DEV_AUDIT_KEY_FILE, 'utf8').trim() : undefined;

/** `keygate audit verify`: the report to print and the exit status. */
export function auditVerifyCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
): { output: string; status: number } {
  const { values, positionals } = parseArgs({
    args,
    options: { json: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 1) return { output: `usage: ${AUDIT_VERIFY_USAGE}`, status: 2 };
  const path = positionals[0] ?? env.AUDIT_DIR ?? '.keygate/audit';
  if (!existsSync(path)) return { output: `${path}: no such file or directory`, status: 1 };
  const started = process.hrtime.bigint();
  const result = verifyAuditLog(path, env.AUDIT_HMAC_KEY || devAuditKey());
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
    ...(result.problem
      ? [
          `  problem:  ${result.problem.kind} at ${result.problem.segment} line ${result.problem.line}: ${result.problem.message}`,
        ]
      : []),
    `  proves:   ${result.proves}`,
  ];
  return { output: lines.join('\n'), status: result.ok ? 0 : 1 };
}
