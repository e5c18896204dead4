import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CopyFormat } from './copy-lines';

/** What a worker found in one page of COPY lines (each line's own chain checked, the page's links). */
export interface PageCheck {
  /** Every line is a chained record whose hash is the SHA-256 of its line, each following the one before. */
  ok: boolean;
  /** Lines that passed (all of them when ok). */
  count: number;
  /** Lines in the page (0: an empty page). */
  lines: number;
  /** The first line's seq and prev_hash: the caller links the page to the one before. */
  firstSeq?: number;
  firstPrev?: string;
  /** The hash of the last line that passed. */
  lastHash?: string;
  /** The first 200 bytes of the first and last lines (their times), as text. */
  firstLine?: string;
  lastLine?: string;
  /** The hash of the line whose seq was asked for (a checkpoint's), when it is in the page. */
  checkpointHash?: string;
}

/**
 * The worker's code, plain JavaScript (run with `eval`, so it works the same under ts-node, jest
 * and the compiled build): one page of `COPY ... TO STDOUT` output at a time, in the format asked
 * for (see CopyFormat). In the text format a line COPY escaped (a backslash in the JSON) is checked
 * in a copy put back to the stored bytes; the binary format carries the stored bytes as they are.
 * The prefix (seq, prev_hash) is read as bytes, no string per line; the hash covers the line up to
 * `,"hash":` plus a closing brace: one is put there for a moment (no copy of the line).
 */
const WORKER_SOURCE = String.raw`
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const sha256 = crypto.hash
  ? (bytes) => crypto.hash('sha256', bytes, 'hex')
  : (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const HASH_FIELD = Buffer.from(',"hash":"', 'latin1');
const TAIL = HASH_FIELD.length + 66;
const SEQ = Buffer.from('{"seq":', 'latin1');
const PREV = Buffer.from(',"prev_hash":"', 'latin1');
const TIME = Buffer.from('","time":"', 'latin1');
/** The seq of a line starting at s, and where its prev_hash starts; undefined when it is no chained line. */
function prefix(buf, s, e) {
  if (e - s < 100 || buf.compare(SEQ, 0, SEQ.length, s, s + SEQ.length) !== 0) return undefined;
  let p = s + SEQ.length;
  if (buf[p] === 0x30) return undefined; // no leading zero: the seq as Keygate writes it
  let seq = 0;
  for (; p < e && buf[p] >= 0x30 && buf[p] <= 0x39 && p < s + SEQ.length + 15; p++)
    seq = seq * 10 + buf[p] - 0x30;
  if (seq === 0 || buf.compare(PREV, 0, PREV.length, p, p + PREV.length) !== 0) return undefined;
  const prevAt = p + PREV.length;
  if (buf.compare(TIME, 0, TIME.length, prevAt + 64, prevAt + 64 + TIME.length) !== 0)
    return undefined;
  return { seq, prevAt };
}
const ESCAPES = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x76: 0x0b };
function unescape(line) {
  const out = Buffer.allocUnsafe(line.length);
  let o = 0;
  for (let i = 0; i < line.length; i++) {
    let c = line[i];
    if (c === 0x5c && i + 1 < line.length) {
      const n = line[++i];
      c = ESCAPES[n] === undefined ? n : ESCAPES[n];
    }
    out[o++] = c;
  }
  return out.subarray(0, o);
}
/** COPY ... (FORMAT binary): the 19-byte header, then per tuple a field count and each field's length. */
const BINARY_HEADER = 19;
/** The [start, end) of each stored line in a page of the given format. */
function boundaries(page, format) {
  const out = [];
  if (format === 'text') {
    for (let from = 0; from < page.length; ) {
      let end = page.indexOf(0x0a, from);
      if (end < 0) end = page.length;
      out.push(from, end);
      from = end + 1;
    }
    return out;
  }
  let p = BINARY_HEADER;
  while (p + 2 <= page.length && page.readInt16BE(p) !== -1) {
    const length = page.readInt32BE(p + 2);
    p += 6;
    if (length < 0) continue; // NULL: string_agg of no rows
    if (format === 'binary') out.push(p, p + length);
    else
      for (let from = p; from < p + length; ) {
        let end = page.indexOf(0x0a, from);
        if (end < 0 || end > p + length) end = p + length;
        out.push(from, end);
        from = end + 1;
      }
    p += length;
  }
  return out;
}
parentPort.on('message', ({ id, bytes, checkpointSeq, format }) => {
  const page = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const result = { id, ok: true, count: 0 };
  let nextSeq = 0;
  let prevHash;
  let last;
  let backslash = format === 'text' ? -1 : page.length;
  const lines = boundaries(page, format);
  result.lines = lines.length / 2;
  for (let l = 0; l < lines.length; l += 2) {
    const from = lines[l];
    const end = lines[l + 1];
    if (backslash < from) {
      backslash = page.indexOf(0x5c, from);
      if (backslash < 0) backslash = page.length;
    }
    const escaped = backslash < end;
    const buf = escaped ? unescape(page.subarray(from, end)) : page;
    const s = escaped ? 0 : from;
    const e = escaped ? buf.length : end;
    const at = e - TAIL;
    const m = at > s ? prefix(buf, s, e) : undefined;
    let ok =
      m !== undefined &&
      buf[e - 1] === 0x7d &&
      buf[e - 2] === 0x22 &&
      buf.compare(HASH_FIELD, 0, HASH_FIELD.length, at, at + HASH_FIELD.length) === 0;
    if (ok) {
      const seq = m.seq;
      if (result.count === 0) {
        result.firstSeq = seq;
        result.firstPrev = buf.latin1Slice(m.prevAt, m.prevAt + 64);
        result.firstLine = buf.toString('utf8', s, Math.min(e, s + 200));
      } else
        // prev_hash is the hash stored at the end of the line before (checked against its content).
        ok =
          seq === nextSeq &&
          buf.compare(last[0], last[3], last[3] + 64, m.prevAt, m.prevAt + 64) === 0;
      if (ok) {
        buf[at] = 0x7d;
        const hash = sha256(buf.subarray(s, at + 1));
        buf[at] = 0x2c;
        ok = buf.latin1Slice(at + HASH_FIELD.length, e - 2) === hash;
        if (ok) {
          if (seq === checkpointSeq) result.checkpointHash = hash;
          nextSeq = seq + 1;
          prevHash = hash;
          last = [buf, s, e, at + HASH_FIELD.length];
        }
      }
    }
    if (!ok) {
      result.ok = false;
      break;
    }
    result.count++;
  }
  result.lastHash = prevHash;
  if (last) result.lastLine = last[0].toString('utf8', last[1], Math.min(last[2], last[1] + 200));
  parentPort.postMessage(result);
});
`;

/**
 * Worker threads that check pages of the ledger off the event loop (and on other cores than the
 * one reading the pages): `keygate audit verify --db` and `GET /v1/audit/verify`. Each page is
 * copied to its worker (transferred, not cloned again); results come back in any order.
 */
export class PageChecker {
  private readonly workers: Worker[] = [];
  private readonly busy: number[] = [];
  private readonly waiting = new Map<
    number,
    { worker: number; resolve: (r: PageCheck) => void; reject: (e: Error) => void }
  >();
  private next = 0;
  private failed?: Error;

  constructor(count = defaultWorkers()) {
    for (let i = 0; i < Math.max(1, count); i++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true });
      worker.on('message', (result: PageCheck & { id: number }) => {
        const waiter = this.waiting.get(result.id);
        if (!waiter) return;
        this.waiting.delete(result.id);
        this.busy[waiter.worker]--;
        waiter.resolve(result);
      });
      worker.on('error', (error) => this.fail(error));
      worker.unref();
      this.workers.push(worker);
      this.busy.push(0);
    }
  }

  /** Checks one page (handed over to the worker: the caller must not use it afterwards). */
  check(page: Buffer, format: CopyFormat, checkpointSeq?: number): Promise<PageCheck> {
    if (this.failed) return Promise.reject(this.failed);
    // The least busy worker.
    let w = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.busy[i] < this.busy[w]) w = i;
    const id = this.next++;
    // A page that owns its memory is handed over as it is; a slice of a larger buffer is copied.
    const own = page.byteOffset === 0 && page.buffer.byteLength === page.length;
    const bytes = own ? new Uint8Array(page.buffer) : new Uint8Array(page);
    return new Promise<PageCheck>((resolve, reject) => {
      this.waiting.set(id, { worker: w, resolve, reject });
      this.busy[w]++;
      this.workers[w].postMessage({ id, bytes, format, checkpointSeq: checkpointSeq ?? -1 }, [
        bytes.buffer as ArrayBuffer,
      ]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.fail(new Error('the page checker was closed'));
  }

  private fail(error: Error): void {
    this.failed ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}

/** Two workers where there are two cores or more (the process itself reads the pages), else one. */
function defaultWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism() - 1)) || 1;
}
