import { timingSafeEqual } from 'node:crypto';
import type { PoolClient } from 'pg';
import { checkpointMac, GENESIS_HASH, headMac, parseChainBytes } from '@app/audit';
import type { ChainPoint, LogGap } from '@app/audit';
import type { Database } from './database';

/** A query runner: the sink's own session, a pool, a transaction's client. */
type Queryable = Pick<PoolClient, 'query'> | Pick<Database, 'query'>;

interface EndRow {
  head: { seq: number; hash: string; mac: string } | null;
  /** The last two records, newest first. */
  tail: { seq: number; hash: string; line: string }[] | null;
  /** The latest stored checkpoint, and the hash of the record at its seq (null: none there). */
  checkpoint: { seq: number; hash: string; mac: string; found: string | null } | null;
}

/**
 * One statement (one snapshot), all of it by index: the head row, the last two records (the
 * primary key read backwards) and the latest stored checkpoint with the record at its seq. No
 * history is read, whatever the ledger's size.
 */
export const LEDGER_END_SQL = `
  SELECT
    (SELECT json_build_object('seq', seq, 'hash', hash, 'mac', mac) FROM ledger_head) AS head,
    (SELECT json_agg(json_build_object('seq', t.seq, 'hash', t.hash, 'line', t.line) ORDER BY t.seq DESC)
       FROM (SELECT seq, hash, line FROM ledger_records ORDER BY seq DESC LIMIT 2) t) AS tail,
    (SELECT json_build_object('seq', c.seq, 'hash', c.hash, 'mac', c.mac, 'found', r.hash)
       FROM (SELECT seq, hash, mac FROM ledger_checkpoints ORDER BY id DESC LIMIT 1) c
       LEFT JOIN ledger_records r ON r.seq = c.seq) AS checkpoint`;

export interface LedgerEnd {
  /** The head to build on (undefined: an empty ledger); set only when there is no gap. */
  head?: ChainPoint;
  /** The end does not match the MAC'd head (or the latest checkpoint): changes are refused. */
  gap?: LedgerGap;
}

export interface LedgerGap extends LogGap {
  /** The problem alone (the message adds what to do). */
  problem: string;
  /** The head row as stored (its MAC aside), when there is one: what accept-loss moves on from. */
  storedHead?: ChainPoint;
}

/** Equal MACs (hex), compared in constant time. */
const sameMac = (a: string | undefined, b: string): boolean =>
  typeof a === 'string' &&
  a.length === b.length &&
  timingSafeEqual(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'));

const at = (p: ChainPoint) => `seq ${p.seq} (hash ${p.hash.slice(0, 12)}…)`;

/**
 * The ledger's end against its MAC'd head, cheaply (start-up, and each re-check while refused):
 * the head's MAC under the head key; the last record is the head's record (no record cut from the
 * end, none appended beyond it); that record's line hashes to its hash, carries its seq and names
 * the record before (or the genesis hash); the latest stored checkpoint (MAC'd with the checkpoint
 * key) is still in the ledger exactly (no rollback to an older head, no ledger emptied). Messages
 * name seq numbers and hash prefixes, never a key or a MAC.
 */
export async function checkLedgerEnd(runner: Queryable, key: string): Promise<LedgerEnd> {
  const { rows } = await (runner as Pick<Database, 'query'>).query<EndRow>(LEDGER_END_SQL);
  const { head, tail, checkpoint } = rows[0];
  const last = tail?.[0];
  const before = tail?.[1];
  const end: ChainPoint = last
    ? { seq: Number(last.seq), hash: last.hash }
    : { seq: 0, hash: GENESIS_HASH };
  const storedHead = head ? { seq: Number(head.seq), hash: head.hash } : undefined;
  const problem = endProblem(key, storedHead, head?.mac, end, last, before, checkpoint);
  if (!problem) return { head: storedHead };
  return {
    gap: {
      problem,
      message: `${problem}: the ledger ends at ${at(end)}${storedHead ? ` and its head records ${at(storedHead)}` : ''}; changes are refused until an operator accepts the loss (keygate audit accept-loss --db --by NAME --reason TEXT)`,
      ...(storedHead && { head: storedHead, storedHead }),
      end,
    },
  };
}

function endProblem(
  key: string,
  head: ChainPoint | undefined,
  mac: string | undefined,
  end: ChainPoint,
  last: { seq: number; hash: string; line: string } | undefined,
  before: { seq: number; hash: string } | undefined,
  checkpoint: EndRow['checkpoint'],
): string | undefined {
  if (!head)
    return last
      ? `the ledger has records up to seq ${end.seq} but no head: the head row was deleted`
      : checkpointProblem(key, checkpoint);
  if (!sameMac(mac, headMac(key, head.seq, head.hash)))
    return `the ledger head (seq ${head.seq}) does not carry this deployment's MAC: it was not written by Keygate with AUDIT_HMAC_KEY`;
  if (head.seq > end.seq)
    return end.seq === 0
      ? `every record was removed (the head records seq ${head.seq})`
      : `records seq ${end.seq + 1} to ${head.seq} were cut from the end`;
  if (head.seq < end.seq)
    return `records seq ${head.seq + 1} to ${end.seq} lie beyond the MAC'd head: Keygate did not append them`;
  if (head.hash !== end.hash) return `record seq ${end.seq} is not the one the head recorded`;
  const parsed = last && parseChainBytes(Buffer.from(last.line, 'utf8'));
  if (!parsed) return `record seq ${end.seq}: its line is not a chained record`;
  if (!parsed.intact || parsed.hash !== end.hash || parsed.seq !== end.seq)
    return `record seq ${end.seq} was altered: its line does not hash to its hash`;
  if (end.seq === 1 ? parsed.prevHash !== GENESIS_HASH : before?.seq !== end.seq - 1)
    return end.seq === 1
      ? 'record seq 1 does not start the chain'
      : `record seq ${end.seq - 1} is missing`;
  if (end.seq > 1 && parsed.prevHash !== before?.hash)
    return `record seq ${end.seq} does not chain to seq ${end.seq - 1}`;
  return checkpointProblem(key, checkpoint);
}

/** The latest stored checkpoint must be signed with the key and still be in the ledger exactly. */
function checkpointProblem(key: string, checkpoint: EndRow['checkpoint']): string | undefined {
  if (!checkpoint) return undefined;
  const cp = { seq: Number(checkpoint.seq), hash: checkpoint.hash };
  if (!sameMac(checkpoint.mac, checkpointMac(key, cp.seq, cp.hash)))
    return `the latest stored checkpoint (seq ${cp.seq}) is not signed with this deployment's key`;
  if (checkpoint.found === cp.hash) return undefined;
  return checkpoint.found === null
    ? `the ledger no longer holds record seq ${cp.seq} (hash ${cp.hash.slice(0, 12)}…), which the latest checkpoint witnessed: it was emptied or rolled back`
    : `record seq ${cp.seq} is not the one the latest checkpoint witnessed (hash ${cp.hash.slice(0, 12)}…): the ledger was rewritten`;
}

/** Stores a checkpoint of `point` (MAC'd with the checkpoint key), which the start-up check requires. */
export async function storeCheckpoint(
  runner: Queryable,
  key: string,
  point: ChainPoint,
): Promise<void> {
  if (point.seq < 1) return;
  await (runner as Pick<Database, 'query'>).query(
    'INSERT INTO ledger_checkpoints (seq, hash, mac) VALUES ($1, $2, $3)',
    [point.seq, point.hash, checkpointMac(key, point.seq, point.hash)],
  );
}
