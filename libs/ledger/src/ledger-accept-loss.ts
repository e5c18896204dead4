import { AuditEntry, AuditRecord, chainLine } from '@app/audit';
import type { Database } from './database';
import { checkLedgerEnd, storeCheckpoint } from './ledger-end';
import type { LedgerGap } from './ledger-end';
import { appendChainedBatch } from './pg-ledger-sink';

export interface LedgerLossAccepted {
  record: AuditRecord;
  gap: LedgerGap;
}

/** Serialises accept-loss runs where there is no head row to lock. */
const ACCEPT_LOSS_LOCK = 7_310_013;

/**
 * `keygate audit accept-loss --db`: in one transaction (the head row locked), when the ledger's end
 * does not match its head, appends an `audit.loss_accepted` record (actor `by`; `loss`: the
 * problem, the head as stored, the end, the reason) chained on from the last record there is, moves
 * the head to it with this deployment's MAC, and stores a checkpoint of it; the records stay as
 * they are (nothing is deleted: a full verify still names what was lost or altered). Undefined
 * when there is no gap.
 */
export async function acceptLedgerLoss(
  database: Database,
  key: string,
  by: string,
  reason: string,
): Promise<LedgerLossAccepted | undefined> {
  const client = await database.pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [ACCEPT_LOSS_LOCK]);
    await client.query('SELECT 1 FROM ledger_head FOR UPDATE');
    const { gap } = await checkLedgerEnd(client, key);
    if (!gap) {
      await client.query('ROLLBACK');
      return undefined;
    }
    const entry: AuditEntry = {
      request_id: `accept-loss-${Date.now()}`,
      event: 'audit.loss_accepted',
      phase: 'succeeded',
      actor: { subject: by, team: 'keygate' },
      target: {},
      loss: {
        problem: gap.problem,
        ...(gap.storedHead && { head: gap.storedHead }),
        end: gap.end,
        reason,
      },
      note: `loss accepted by ${by}: ${reason}`,
    };
    const seq = gap.end.seq + 1;
    const time = new Date().toISOString();
    const { line, hash } = chainLine(seq, gap.end.hash, time, entry);
    const record: AuditRecord = { seq, prev_hash: gap.end.hash, time, ...entry, hash };
    const moved = await appendChainedBatch(
      client,
      key,
      gap.storedHead,
      [record],
      [line.slice(0, -1)],
    );
    if (!moved) throw new Error('the ledger head moved while the loss was being accepted');
    await storeCheckpoint(client, key, { seq, hash });
    await client.query('COMMIT');
    return { record, gap };
  } catch (error) {
    broken = error as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release(broken);
  }
}
