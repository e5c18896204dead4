import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** What a worker found in one page of COPY lines (each line's own chain checked, the page's links). */
export interface PageCheck {
  /** Every line is a chained record whose hash is the SHA-256 of its line, each following the one before. */
  ok: boolean;
  /** Lines that passed (all of them when ok). */
  count: number;
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
 * and the compiled build): one page of `COPY ... TO STDOUT` text at a time. A line COPY escaped (a
 * backslash in the JSON) is checked in a copy put back to the stored bytes. The hash covers the
 * line up to `,"hash":` plus a closing brace: one is put there for a moment (no copy of the line).
 */
const WORKER_SOURCE = String.raw`
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const sha256 = crypto.hash
  ? (bytes) => crypto.hash('sha256', bytes, 'hex')
  : (bytes) => crypto.createHash('sha256').update(bytes).digest('hex');
const HASH_FIELD = Buffer.from(',"hash":"', 'latin1');
const TAIL = HASH_FIELD.length + 66;
const PREFIX = /^\{"seq":(\d{1,15}),"prev_hash":"([0-9a-f]{64})","time":"/;
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
parentPort.on('message', ({ id, bytes, checkpointSeq }) => {
  const page = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const result = { id, ok: true, count: 0 };
  let nextSeq = 0;
  let prevHash;
  let last;
  let backslash = -1;
  for (let from = 0; from < page.length; ) {
    let end = page.indexOf(0x0a, from);
    if (end < 0) end = page.length;
    if (backslash < from) {
      backslash = page.indexOf(0x5c, from);
      if (backslash < 0) backslash = page.length;
    }
    const escaped = backslash < end;
    const buf = escaped ? unescape(page.subarray(from, end)) : page;
    const s = escaped ? 0 : from;
    const e = escaped ? buf.length : end;
    const at = e - TAIL;
    const m = at > s ? PREFIX.exec(buf.latin1Slice(s, Math.min(e, s + 110))) : null;
    let ok =
      m !== null &&
      buf[e - 1] === 0x7d &&
      buf[e - 2] === 0x22 &&
      buf.compare(HASH_FIELD, 0, HASH_FIELD.length, at, at + HASH_FIELD.length) === 0;
    if (ok) {
      const seq = Number(m[1]);
      if (result.count === 0) {
        result.firstSeq = seq;
        result.firstPrev = m[2];
        result.firstLine = buf.toString('utf8', s, Math.min(e, s + 200));
      } else ok = seq === nextSeq && m[2] === prevHash;
      if (ok) {
        buf[at] = 0x7d;
        const hash = sha256(buf.subarray(s, at + 1));
        buf[at] = 0x2c;
        ok = buf.latin1Slice(at + HASH_FIELD.length, e - 2) === hash;
        if (ok) {
          if (seq === checkpointSeq) result.checkpointHash = hash;
          nextSeq = seq + 1;
          prevHash = hash;
          last = [buf, s, e];
        }
      }
    }
    if (!ok) {
      result.ok = false;
      break;
    }
    result.count++;
    from = end + 1;
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

  /** Checks one page (the bytes are copied: the caller's buffer is left as it is). */
  check(page: Buffer, checkpointSeq?: number): Promise<PageCheck> {
    if (this.failed) return Promise.reject(this.failed);
    // The least busy worker.
    let w = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.busy[i] < this.busy[w]) w = i;
    const id = this.next++;
    const bytes = new Uint8Array(page);
    return new Promise<PageCheck>((resolve, reject) => {
      this.waiting.set(id, { worker: w, resolve, reject });
      this.busy[w]++;
      this.workers[w].postMessage({ id, bytes, checkpointSeq: checkpointSeq ?? -1 }, [
        bytes.buffer,
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
