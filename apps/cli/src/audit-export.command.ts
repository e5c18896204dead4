import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { HEAD_FILE, listSegments } from '@app/audit';
import { exportLedger, LedgerExportRefused, PgLedgerSink } from '@app/ledger';
import { onDatabase } from './database';

export const AUDIT_EXPORT_USAGE = `keygate audit export DIR [--by NAME]
  Writes the PostgreSQL ledger at DATABASE_URL as the file log's JSONL segments (rotated at
  AUDIT_SEGMENT_BYTES, default 64 MiB) and head file in DIR (created; refused if it holds a log):
  every record's exact line from seq 1 to the head, which \`keygate audit verify DIR\` checks
  offline. The export is first recorded in the ledger as an auditor's read (audit.read, kind
  export, actor NAME, default the system user), so it needs AUDIT_HMAC_KEY; exported with it.`;

const DEFAULT_SEGMENT_BYTES = 64 << 20;

/** `keygate audit export`: the report to print and the exit status. */
export async function auditExportCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ output: string; status: number }> {
  const { values, positionals } = parseArgs({
    args,
    options: { by: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) return { output: `usage: ${AUDIT_EXPORT_USAGE}`, status: 2 };
  const dir = resolve(positionals[0]);
  const by = (values.by?.trim() || userInfo().username || 'unknown').slice(0, 256);
  const segmentBytes =
    env.AUDIT_SEGMENT_BYTES === undefined || env.AUDIT_SEGMENT_BYTES === ''
      ? DEFAULT_SEGMENT_BYTES
      : Number(env.AUDIT_SEGMENT_BYTES);
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 1)
    return { output: 'AUDIT_SEGMENT_BYTES must be a positive whole number of bytes', status: 1 };
  if (existsSync(dir) && (listSegments(dir).length > 0 || existsSync(join(dir, HEAD_FILE))))
    return {
      output: `${dir} already holds an audit log: export into an empty directory`,
      status: 1,
    };
  const key = env.AUDIT_HMAC_KEY;
  if (!key)
    return {
      output:
        'AUDIT_HMAC_KEY is not set: the export is recorded in the ledger first, which needs it',
      status: 1,
    };
  return onDatabase(env, { max: 2, applicationName: 'keygate-export' }, async (database) => {
    try {
      // Recorded before anything is written: no export leaves the ledger unrecorded.
      const sink = await PgLedgerSink.open({ database, hmacKey: key });
      let seq: number;
      try {
        const [record] = await sink.append([
          {
            request_id: `cli-export-${randomUUID()}`,
            event: 'audit.read',
            phase: 'succeeded',
            actor: { subject: by, team: 'keygate' },
            target: {},
            read: { kind: 'export', filters: { dir } },
            note: 'keygate audit export: every record from seq 1 to the head, this one included',
          },
        ]);
        seq = record.seq;
      } catch (error) {
        return {
          output: `${database.safeUrl}: the export cannot be recorded in the ledger, so nothing was exported: ${(error as Error).message}`,
          status: 1,
        };
      } finally {
        await sink.close();
      }
      const started = process.hrtime.bigint();
      const result = await exportLedger(database, { dir, segmentBytes });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      return {
        output: [
          `${database.safeUrl}: exported to ${dir}`,
          `  records:  ${result.records} (seq 1 to ${result.head.seq}) in ${result.segments.length} segment(s), ${seconds.toFixed(3)} s`,
          `  head:     seq ${result.head.seq} (its MAC as the ledger holds it)`,
          `  recorded: seq ${seq} (audit.read, export, by ${by})`,
          `  check it: keygate audit verify ${dir}`,
        ].join('\n'),
        status: 0,
      };
    } catch (error) {
      if (error instanceof LedgerExportRefused)
        return { output: `${dir}: ${error.message}`, status: 1 };
      throw error;
    }
  });
}
