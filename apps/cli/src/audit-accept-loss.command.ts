import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AuditFileSink } from '@app/audit';
import { acceptLedgerLoss } from '@app/ledger';
import { onDatabase } from './database';

export const AUDIT_ACCEPT_LOSS_USAGE = `keygate audit accept-loss --by NAME --reason TEXT [DIR]
  With the gateway stopped: when the audit log (default: AUDIT_DIR, else .keygate/audit) does not
  end where its MAC'd head says (records cut, a line that is not a record, no head), records an
  audit.loss_accepted record (who, the gap, why) and goes on from the last intact record; lines
  that are not records are moved beside their segment (.set-aside-SEQ), never deleted. Needs
  AUDIT_HMAC_KEY. Exit status 1 when there is no gap to accept.
keygate audit accept-loss --db --by NAME --reason TEXT
  The same for the PostgreSQL ledger at DATABASE_URL (the gateway may run: it refuses changes
  while the gap is there and resumes once it is accepted): when the ledger's end does not match
  its MAC'd head or its latest stored checkpoint (records cut, the head deleted, rolled back or
  not MAC'd with the key, a last record that does not chain), appends audit.loss_accepted (who,
  the head and end seq/hash, why) after the last record there is, moves the head to it and
  stores a checkpoint of it. Nothing is deleted. Needs AUDIT_HMAC_KEY.`;

/** `keygate audit accept-loss`: the report to print and the exit status. */
export async function auditAcceptLossCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ output: string; status: number }> {
  const { values, positionals } = parseArgs({
    args,
    options: { by: { type: 'string' }, reason: { type: 'string' }, db: { type: 'boolean' } },
    allowPositionals: true,
    strict: true,
  });
  const by = values.by?.trim();
  const reason = values.reason?.trim();
  if (!by || !reason || positionals.length > (values.db ? 0 : 1))
    return { output: `usage: ${AUDIT_ACCEPT_LOSS_USAGE}`, status: 2 };
  if (values.db) return acceptLossOnDatabase(by.slice(0, 256), reason.slice(0, 2000), env);
  const dir = positionals[0] ?? env.AUDIT_DIR ?? '.keygate/audit';
  if (!existsSync(dir)) return { output: `${dir}: no such directory`, status: 1 };
  const key = env.AUDIT_HMAC_KEY;
  if (!key) return { output: 'AUDIT_HMAC_KEY is not set (the audit log’s key)', status: 1 };
  const sink = await AuditFileSink.open({ dir, segmentBytes: 64 << 20, hmacKey: key, fsync: true });
  try {
    const gap = sink.health().gap;
    if (!gap) {
      const health = sink.health();
      return {
        output: health.ok
          ? `${dir}: the log ends where its head says (seq ${health.seq}): no loss to accept`
          : `${dir}: ${health.error}`,
        status: 1,
      };
    }
    const record = await sink.acceptLoss(by.slice(0, 256), reason.slice(0, 2000));
    return {
      output: [
        `${dir}: loss accepted by ${by}, recorded as seq ${record?.seq} (audit.loss_accepted)`,
        `  gap:      ${gap.message}`,
        ...(record?.loss?.set_aside
          ? [`  set aside: ${record.loss.set_aside.bytes} bytes in ${record.loss.set_aside.file}`]
          : []),
      ].join('\n'),
      status: 0,
    };
  } finally {
    await sink.close();
  }
}

/** `keygate audit accept-loss --db`: the PostgreSQL ledger at DATABASE_URL. */
async function acceptLossOnDatabase(
  by: string,
  reason: string,
  env: NodeJS.ProcessEnv,
): Promise<{ output: string; status: number }> {
  const key = env.AUDIT_HMAC_KEY;
  if (!key) return { output: 'AUDIT_HMAC_KEY is not set (the audit ledger’s key)', status: 1 };
  return onDatabase(env, { max: 1, applicationName: 'keygate-accept-loss' }, async (database) => {
    const accepted = await acceptLedgerLoss(database, key, by, reason);
    if (!accepted)
      return {
        output: `${database.safeUrl}: the ledger ends where its head says: no loss to accept`,
        status: 1,
      };
    const { record, gap } = accepted;
    return {
      output: [
        `${database.safeUrl}: loss accepted by ${by}, recorded as seq ${record.seq} (audit.loss_accepted)`,
        `  gap:  ${gap.problem}`,
        `  head: ${gap.storedHead ? `seq ${gap.storedHead.seq} (hash ${gap.storedHead.hash})` : 'none'}`,
        `  end:  seq ${gap.end.seq} (hash ${gap.end.hash})`,
      ].join('\n'),
      status: 0,
    };
  });
}
