import * as crypto from 'node:crypto';
import type { PoolClient } from 'pg';
import { checkpointMac, GENESIS_HASH, headMac, parseChainBytes } from '@app/audit';
import type { ChainPoint, ProblemKind } from '@app/audit';
import { copyPage } from './copy-lines';
import type { CopyFormat } from './copy-lines';
import type { Database } from './database';
import { PageChecker } from './page-checker';
import type { PageCheck } from './page-checker';

/** `keygate audit verify --db`: the file verifier's rules, on the PostgreSQL ledger. */
export interface LedgerStreamVerifyOptions {
  /** AUDIT_HMAC_KEY: without it the head's MAC cannot be checked (a failure unless noHead). */
  key?: string;
  /** Verify the chain alone, on purpose: the head is not checked (the end is then not proven). */
  noHead?: boolean;
  /** Verify the part after this record (its seq and hash), on purpose: the records up to it are not read. */
  anchor?: ChainPoint;
  /** A point witnessed outside the ledger (a signed checkpoint): the ledger must still contain it exactly. */
  checkpoint?: ChainPoint & { mac?: string };
  /** Records per page (default 5,000). */
  pageSize?: number;
  /** Sessions sharing the snapshot, each reading a page ahead while this process checks one (default 3, at most the pool's size). */
  sessions?: number;
  /** Worker threads checking pages off the event loop (default: 2, or 1 on a machine of 2 cores or fewer). */
  workers?: number;
  /** How pages travel (see CopyFormat; default binary: no escaping on either side). */
  format?: CopyFormat;
  /** Between pages: give the event loop back, report progress. */
  betweenPages?: (records: number) => Promise<void> | void;
}

export interface LedgerStreamProblem {
  kind: ProblemKind;
  seq?: number;
  message: string;
}

export interface LedgerStreamVerifyResult {
  ok: boolean;
  records: number;
  first?: { seq: number; time: string };
  last?: { seq: number; time: string; hash: string };
  head: 'matches' | 'unverified (no key)' | 'no head' | 'mismatch' | 'not checked (--no-head)';
  checkpoint?: 'contained';
  problem?: LedgerStreamProblem;
  proves: string;
}

/** `,"hash":"` + 64 hex digits + `"}`: the end of every chained line. */
const HASH_FIELD = ',"hash":"';
const TAIL = HASH_FIELD.length + 66;
const TIME = /^\{"seq":\d+,"prev_hash":"[0-9a-f]{64}","time":"([^"]{1,40})",/;

type OneShot = { hash: (algorithm: string, data: string | Buffer, encoding: 'hex') => string };
/** SHA-256 in hex of a string's UTF-8 bytes: Node's one-shot crypto.hash where it exists (20.12+). */
const oneShot = (crypto as Partial<OneShot>).hash;
const sha256Hex: (text: string) => string = oneShot
  ? (text) => oneShot('sha256', text, 'hex')
  : (text) => crypto.createHash('sha256').update(text, 'utf8').digest('hex');

const timeOf = (line: string): string => TIME.exec(line)?.[1] ?? '';

/**
 * Walks the ledger's chain in one REPEATABLE READ snapshot (so the head and the records are read
 * as one state, whatever other instances append meanwhile), in pages of seq ranges over the
 * primary key: never the whole ledger in memory. Several sessions share the snapshot
 * (pg_export_snapshot), so the server reads the next pages while worker threads (PageChecker)
 * hash the last ones, off the event loop; pages travel as COPY's binary format by default (each
 * line's stored bytes, no escaping on either side).
 * Each stored line must hash to its hash, carry its row's seq, and name the hash of the record
 * before; the chain starts at seq 1 from the genesis hash (or right after `anchor`); the last
 * record is the head, whose MAC is checked with the head key (unless `noHead`); a checkpoint must
 * be contained exactly.
 */
export async function verifyLedgerStream(
  database: Database,
  options: LedgerStreamVerifyOptions = {},
): Promise<LedgerStreamVerifyResult> {
  const sessions: PoolClient[] = [];
  let broken: Error | undefined;
  try {
    // Never more sessions than the pool holds (waiting for one that never frees would hang).
    const count = Math.max(1, Math.min(options.sessions ?? 3, database.pool.options.max ?? 10));
    for (let i = 0; i < count; i++) {
      const client = await database.pool.connect();
      sessions.push(client);
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    }
    const { rows } = await sessions[0].query<{ id: string }>('SELECT pg_export_snapshot() AS id');
    for (const other of sessions.slice(1))
      await other.query(`SET TRANSACTION SNAPSHOT '${rows[0].id.replace(/[^0-9A-F-]/gi, '')}'`);
    const result = await walk(sessions, options);
    for (const client of sessions) await client.query('COMMIT');
    return result;
  } catch (error) {
    broken = error as Error;
    throw error;
  } finally {
    for (const client of sessions) client.release(broken);
  }
}

async function walk(
  sessions: PoolClient[],
  options: LedgerStreamVerifyOptions,
): Promise<LedgerStreamVerifyResult> {
  const client = sessions[0];
  const { key, noHead = false, anchor, checkpoint } = options;
  const pageSize = options.pageSize ?? 5_000;
  const format = options.format ?? 'binary';
  const headRow = (
    await client.query<{ seq: string; hash: string; mac: string }>(
      'SELECT seq, hash, mac FROM ledger_head',
    )
  ).rows[0];
  const head = headRow && { seq: Number(headRow.seq), hash: headRow.hash, mac: headRow.mac };
  const start = anchor ?? { seq: 0, hash: GENESIS_HASH };

  let records = 0;
  let expected = start.seq + 1;
  let prevHash = start.hash;
  let firstLine: string | undefined;
  let lastLine: string | undefined;
  let checkpointHash: string | undefined;

  const point = () =>
    lastLine === undefined
      ? undefined
      : { seq: expected - 1, time: timeOf(lastLine), hash: prevHash };
  const first = () =>
    firstLine === undefined ? undefined : { seq: start.seq + 1, time: timeOf(firstLine) };
  const fail = (
    problem: LedgerStreamProblem,
    headState: LedgerStreamVerifyResult['head'] = 'mismatch',
  ): LedgerStreamVerifyResult => ({
    ok: false,
    records,
    first: first(),
    last: point(),
    head: headState,
    problem,
    proves: 'nothing beyond the records before the problem',
  });

  /** Names what is wrong with a row that failed the fast check (the file verifier's words). */
  const diagnose = (seqText: string, hash: string, line: string): LedgerStreamProblem => {
    const rowSeq = Number(seqText);
    const parsed = parseChainBytes(Buffer.from(line, 'utf8'));
    if (!parsed)
      return { kind: 'malformed', seq: rowSeq, message: `seq ${rowSeq}: not a chained record` };
    if (!parsed.intact || parsed.hash !== hash)
      return {
        kind: 'altered',
        seq: rowSeq,
        message: `record seq ${rowSeq} was altered: its hash does not match its content`,
      };
    if (parsed.seq !== rowSeq)
      return {
        kind: 'altered',
        seq: rowSeq,
        message: `the row of seq ${rowSeq} holds the line of seq ${parsed.seq}`,
      };
    if (records === 0 && rowSeq !== expected)
      return {
        kind: 'unanchored',
        seq: rowSeq,
        message: anchor
          ? `the ledger goes on at seq ${rowSeq}, not right after the anchor seq ${anchor.seq}`
          : `the ledger starts at seq ${rowSeq}, not at seq 1: earlier records are missing (--anchor SEQ:HASH of the record before it verifies a part on purpose)`,
      };
    if (rowSeq !== expected)
      return {
        kind: 'missing',
        seq: rowSeq,
        message: `records seq ${expected} to ${rowSeq - 1} are missing`,
      };
    return {
      kind: 'altered',
      seq: rowSeq,
      message:
        records === 0
          ? anchor
            ? `record seq ${rowSeq} does not chain to the anchor's hash`
            : 'record seq 1 does not start the chain'
          : `record seq ${rowSeq} does not chain to seq ${rowSeq - 1}: a record was replaced`,
    };
  };

  // Pages of seq ranges (dense: seq has no gaps unless records were removed), the next one asked
  // for before this one is checked, on the other session; rows as arrays (no object per row).
  const end = Number(
    (await client.query<{ end: string | null }>('SELECT max(seq) AS end FROM ledger_records'))
      .rows[0].end ?? 0,
  );
  const rowsOf = (from: number, session: PoolClient, firstOnly = false) =>
    session.query<[string, string, string]>({
      text: firstOnly
        ? 'SELECT seq, hash, line FROM ledger_records WHERE seq > $1 ORDER BY seq LIMIT 1'
        : 'SELECT seq, hash, line FROM ledger_records WHERE seq > $1 AND seq <= $2 ORDER BY seq',
      values: firstOnly ? [from] : [from, from + pageSize],
      rowMode: 'array',
    });
  // A page travels as COPY's text output (copyLines), checked as bytes: no string per record.
  const page = (from: number, session: PoolClient) => {
    const result = copyPage(session, from, from + pageSize, format);
    result.catch(() => undefined); // a page asked for ahead may be left unread when a problem is found
    return result;
  };

  /** The row-by-row check, which names the first problem; undefined when the rows are sound. */
  const checkRows = (rows: [string, string, string][]): LedgerStreamVerifyResult | undefined => {
    for (const [seqText, hash, line] of rows) {
      const at = line.length - TAIL;
      const intact =
        at > 0 &&
        seqText === String(expected) &&
        line.startsWith(`{"seq":${expected},"prev_hash":"${prevHash}","time":"`) &&
        line.startsWith(HASH_FIELD, at) &&
        line.endsWith('"}') &&
        line.startsWith(hash, at + HASH_FIELD.length) &&
        sha256Hex(`${line.slice(0, at)}}`) === hash;
      if (!intact) return fail(diagnose(seqText, hash, line));
      if (beyondHead()) return fail(beyondHeadProblem());
      if (firstLine === undefined) firstLine = line;
      lastLine = line;
      if (checkpoint && expected === checkpoint.seq) checkpointHash = hash;
      prevHash = hash;
      expected++;
      records++;
    }
    return undefined;
  };
  const beyondHead = () => head !== undefined && !noHead && expected === head.seq + 1;
  const beyondHeadProblem = (): LedgerStreamProblem => ({
    kind: 'altered',
    seq: expected,
    message: `record seq ${expected} lies beyond the MAC'd head (seq ${head?.seq}): Keygate did not append it`,
  });

  /**
   * A page checked by a worker is taken as a whole when its lines passed and it links to the chain
   * so far (its first seq and prev_hash), without going beyond the head. Otherwise false: the page
   * is then checked row by row here, to name the record.
   */
  const takePage = (checked: PageCheck): boolean => {
    const count = checked.count;
    if (
      !checked.ok ||
      count === 0 ||
      checked.firstSeq !== expected ||
      checked.firstPrev !== prevHash ||
      (head !== undefined && !noHead && expected + count - 1 > head.seq)
    )
      return false;
    if (firstLine === undefined) firstLine = checked.firstLine;
    lastLine = checked.lastLine;
    if (checked.checkpointHash !== undefined) checkpointHash = checked.checkpointHash;
    prevHash = checked.lastHash as string;
    expected += count;
    records += count;
    return true;
  };

  // Pages in flight, oldest first: one per session, so the server reads ahead while workers check
  // the pages already read (off the event loop); results are taken in seq order.
  const checker = new PageChecker(options.workers);
  type Read = { lines: number; checked?: PageCheck };
  const inFlight: Promise<Read>[] = [];
  let asked = start.seq;
  const ask = () => {
    while (inFlight.length < sessions.length && asked < end) {
      const read = page(asked, sessions[((asked / pageSize) % sessions.length) | 0]).then(
        async (bytes): Promise<Read> => {
          if (bytes.length === 0) return { lines: 0 };
          const checked = await checker.check(bytes, format, checkpoint?.seq);
          return { lines: checked.lines, checked };
        },
      );
      read.catch(() => undefined); // a page asked for ahead may be left unread when a problem is found
      inFlight.push(read);
      asked += pageSize;
    }
  };
  try {
    ask();
    for (let from = start.seq; inFlight.length > 0; from += pageSize) {
      const read = await (inFlight.shift() as Promise<Read>);
      ask();
      if (read.lines === 0) {
        // A whole page is missing: name the gap by the next record there is.
        const after = await rowsOf(from, client, true);
        const [seqText, hash, line] = after.rows[0];
        return fail(diagnose(seqText, hash, line));
      }
      if (!takePage(read.checked as PageCheck)) {
        const problem = checkRows((await rowsOf(from, client)).rows);
        if (problem) return problem;
      }
      await options.betweenPages?.(records);
    }
  } finally {
    await checker.close();
  }

  const lastSeq = expected - 1;
  let headState: LedgerStreamVerifyResult['head'] = noHead ? 'not checked (--no-head)' : 'no head';
  if (!noHead) {
    if (!head)
      return fail(
        {
          kind: 'head',
          message:
            records > 0
              ? 'the ledger has records but no head: records cut from the end together with it would not show (--no-head to verify the chain alone)'
              : 'the ledger has no head and no record',
        },
        'no head',
      );
    if (head.seq > lastSeq)
      return fail({
        kind: 'truncated',
        seq: lastSeq,
        message: `the ledger ends at seq ${lastSeq} but its head records seq ${head.seq}: records were cut from the end`,
      });
    if (head.seq !== lastSeq || head.hash !== prevHash)
      return fail({
        kind: 'altered',
        seq: head.seq,
        message: `record seq ${head.seq} is not the one the head recorded`,
      });
    if (key === undefined)
      return fail(
        {
          kind: 'head',
          seq: head.seq,
          message:
            'head unverified: no key (AUDIT_HMAC_KEY) to check its MAC, so records cut from the end would not show (--no-head to verify the chain alone)',
        },
        'unverified (no key)',
      );
    if (headMac(key, head.seq, head.hash) !== head.mac)
      return fail({
        kind: 'altered',
        seq: head.seq,
        message: 'the ledger head was altered (its MAC does not match the audit key)',
      });
    headState = 'matches';
  }
  if (records === 0)
    return fail({
      kind: 'empty',
      message: anchor
        ? `the ledger holds no record after the anchor seq ${anchor.seq}`
        : 'the ledger holds no record: nothing shows it was not emptied',
    });
  if (checkpoint) {
    if (
      checkpoint.mac !== undefined &&
      key !== undefined &&
      checkpoint.mac !== checkpointMac(key, checkpoint.seq, checkpoint.hash)
    )
      return fail({
        kind: 'checkpoint',
        seq: checkpoint.seq,
        message: 'the checkpoint given was not signed with this audit key',
      });
    if (checkpointHash !== checkpoint.hash)
      return fail({
        kind: 'rollback',
        seq: checkpoint.seq,
        message:
          checkpointHash !== undefined
            ? `record seq ${checkpoint.seq} is not the checkpoint's: the ledger was rewritten after it`
            : checkpoint.seq <= start.seq
              ? `the checkpoint's seq ${checkpoint.seq} is not after the anchor seq ${start.seq}: not checked`
              : `the ledger does not contain the checkpoint's seq ${checkpoint.seq} (it ends at seq ${lastSeq}): it was rolled back or cut`,
      });
  }
  return {
    ok: true,
    records,
    first: first(),
    last: point(),
    head: headState,
    ...(checkpoint && { checkpoint: 'contained' as const }),
    proves:
      `${records} records form one unbroken hash chain` +
      (anchor ? ` starting right after the anchor seq ${anchor.seq}` : ' starting at seq 1') +
      (headState === 'matches'
        ? ', ending at the head, which carries this deployment’s MAC (nothing was cut from the end without the key)'
        : ', the head not checked (--no-head): records cut from the end would not show') +
      (checkpoint ? `, and it still contains the checkpoint seq ${checkpoint.seq}` : '') +
      '. It does not prove that someone holding the database and the key did not rewrite the whole chain.',
  };
}
