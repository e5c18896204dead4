import { GENESIS_HASH, headMac, parseChainBytes } from '@app/audit';
import type { Database } from './database';

export interface LedgerVerifyProblem {
  kind: 'altered' | 'missing' | 'reordered' | 'malformed' | 'truncated';
  seq?: number;
  message: string;
}

export interface LedgerVerifyResult {
  ok: boolean;
  records: number;
  first?: { seq: number; time: string };
  last?: { seq: number; time: string; hash: string };
  head: 'matches' | 'not written yet' | 'unverified (no key)' | 'mismatch';
  problem?: LedgerVerifyProblem;
  proves: string;
}

export interface LedgerVerifyOptions {
  /** AUDIT_HMAC_KEY: without it the head's MAC cannot be checked. */
  key?: string;
  /** Rows per page (default 20,000). */
  pageSize?: number;
  /** Between pages: e.g. give the event loop back (the gateway) or report progress (the CLI). */
  betweenPages?: (records: number) => Promise<void> | void;
}

/** Lines of the ledger in seq order, a page at a time (keyset on seq: never one huge result). */
export async function* ledgerLines(
  database: Database,
  pageSize = 20_000,
  after = 0,
  upTo = Number.MAX_SAFE_INTEGER,
): AsyncGenerator<{ seq: number; hash: string; line: string }[]> {
  let last = after;
  for (;;) {
    const { rows } = await database.query<{ seq: string; hash: string; line: string }>(
      'SELECT seq, hash, line FROM ledger_records WHERE seq > $1 AND seq <= $3 ORDER BY seq LIMIT $2',
      [last, pageSize, upTo],
    );
    if (rows.length === 0) return;
    const page = rows.map((r) => ({ seq: Number(r.seq), hash: r.hash, line: r.line }));
    last = page[page.length - 1].seq;
    yield page;
    if (rows.length < pageSize) return;
  }
}

/**
 * Walks the ledger's chain from seq 1 in pages: each stored line must hash to its hash, carry its
 * row's seq, and name the hash of the record before; the end must be the MAC'd head.
 */
export async function verifyLedger(
  database: Database,
  options: LedgerVerifyOptions = {},
): Promise<LedgerVerifyResult> {
  // The head first: records only ever follow it, so a head read before them is never ahead.
  const head = (
    await database.query<{ seq: string; hash: string; mac: string }>(
      'SELECT seq, hash, mac FROM ledger_head',
    )
  ).rows[0];
  let records = 0;
  let expected = 1;
  let prevHash = GENESIS_HASH;
  let first: LedgerVerifyResult['first'];
  let last: LedgerVerifyResult['last'];
  const proves =
    'every record from seq 1 to the head is present, in order and unchanged, and the head carries this deployment’s MAC';
  const fail = (problem: LedgerVerifyProblem): LedgerVerifyResult => ({
    ok: false,
    records,
    first,
    last,
    head: 'mismatch',
    problem,
    proves,
  });
  // Up to the head: what other writers add meanwhile lies beyond it (a ledger without a head, all).
  const upTo = head ? Number(head.seq) : undefined;
  for await (const page of ledgerLines(database, options.pageSize, 0, upTo)) {
    for (const row of page) {
      const parsed = parseChainBytes(Buffer.from(row.line, 'utf8'));
      if (!parsed)
        return fail({ kind: 'malformed', seq: row.seq, message: `seq ${row.seq}: not a record` });
      if (row.seq !== expected)
        return fail({
          kind: 'missing',
          seq: expected,
          message: `seq ${expected} is missing (the next record is seq ${row.seq})`,
        });
      if (!parsed.intact || parsed.hash !== row.hash || parsed.seq !== row.seq)
        return fail({
          kind: 'altered',
          seq: row.seq,
          message: `seq ${row.seq} was changed after it was written (its hash does not match)`,
        });
      if (parsed.prevHash !== prevHash)
        return fail({
          kind: 'reordered',
          seq: row.seq,
          message: `seq ${row.seq} does not follow the record before it (prev_hash)`,
        });
      if (!first) first = { seq: parsed.seq, time: parsed.time };
      last = { seq: parsed.seq, time: parsed.time, hash: parsed.hash };
      prevHash = parsed.hash;
      expected++;
      records++;
    }
    await options.betweenPages?.(records);
  }
  if (!head)
    return records === 0
      ? { ok: true, records, head: 'not written yet', proves: 'the ledger is empty' }
      : fail({ kind: 'truncated', message: 'the ledger has records but no head' });
  const headSeq = Number(head.seq);
  if (!last || headSeq !== last.seq || head.hash !== last.hash)
    return fail({
      kind: 'truncated',
      seq: last?.seq,
      message: `the head is at seq ${headSeq} but the records end at seq ${last?.seq ?? 0}`,
    });
  if (!options.key) return { ok: false, records, first, last, head: 'unverified (no key)', proves };
  if (headMac(options.key, headSeq, head.hash) !== head.mac)
    return fail({ kind: 'altered', seq: headSeq, message: 'the head’s MAC does not match' });
  return { ok: true, records, first, last, head: 'matches', proves };
}
