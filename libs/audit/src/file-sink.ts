import { createHash } from 'node:crypto';
import { fdatasync as fdatasyncCallback, readFileSync, statSync, writeSync } from 'node:fs';
import { FileHandle, open, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AuditEntry, AuditRecord } from './audit.types';
import { GroupCommit } from './group-commit';
import { chainLine, GENESIS_HASH, parseChainBytes } from './chain';
import { headMac, legacyHeadMac, sameMac } from './keys';
import { headFileFor, listSegments, segmentName, segmentNumber } from './segments';
import { ChainPoint, readHead } from './verify';

export interface AuditSinkOptions {
  dir: string;
  /** Rotate to a new segment once the current one reaches this size. */
  segmentBytes: number;
  /** Key of the head file's MAC (the same deployment key as the fingerprints). */
  hmacKey: string;
  /** fdatasync every batch (the default). Off only to measure what durability costs. */
  fsync: boolean;
  /** Told of every batch written: its records, and the seconds spent writing and syncing. */
  observe?: (batch: { records: number; writeSeconds: number; syncSeconds: number }) => void;
}

/** The audit log cannot be written: issuance and revocation must not go on. */
export class AuditUnavailableError extends Error {
  override readonly name = 'AuditUnavailableError';
}

export interface SinkHealth {
  ok: boolean;
  file?: string;
  seq: number;
  error?: string;
  since?: string;
  /** The log's end does not match its MAC'd head: refused until an operator accepts the loss. */
  gap?: LogGap;
  /** The last record written (seq and hash): what a checkpoint signs. */
  last?: ChainPoint;
}

/**
 * Found at start-up: the log does not end where its MAC'd head says (records cut, a line that is
 * not a record, no head, a head that is not Keygate's). Nothing is written until `keygate audit
 * accept-loss` records who accepted it and why.
 */
export interface LogGap {
  message: string;
  /** What the head recorded (absent: no head file, or one that cannot be read). */
  head?: ChainPoint;
  /** The last intact record of the log (seq 0: none). */
  end: ChainPoint;
  /** Bytes after the last record that are not records: set aside (never deleted) when the loss is accepted. */
  junk?: { segment: string; offset: number; bytes: number };
}

/** fs.fdatasync on a raw descriptor: far less work a batch than FileHandle.datasync(). */
const fdatasync = (fd: number) =>
  new Promise<void>((resolve, reject) =>
    fdatasyncCallback(fd, (error) => (error ? reject(error) : resolve())),
  );

/** Under load the head is rewritten at most this often (each rewrite is four file system calls). */
const HEAD_PAUSE_MS = 50;

const describe = (error: unknown): string => {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^[A-Z]+: /, '')}` : String(e.message ?? error);
};

/**
 * The durable audit log: JSON lines appended to numbered segment files, hash-chained across
 * segments. A record is durable (written and fdatasync'd) before append() resolves; concurrent
 * appends share one write and one fdatasync (group commit). When the file cannot be written the
 * append rejects (fail closed) and the sink reports itself unhealthy until a write succeeds.
 */
export class AuditFileSink {
  private handle?: FileHandle;
  private file?: string;
  private ino?: number;
  private size = 0;
  private segment = 0;
  private seq = 0;
  private lastHash = GENESIS_HASH;
  private readonly commits = new GroupCommit(
    (entries) => this.write(entries),
    (error) =>
      new AuditUnavailableError(
        `audit log ${this.file ?? this.options.dir} cannot be written (${describe(error)})`,
      ),
  );
  private failure?: { error: string; since: string };
  /** Set when the open segment vanished from its path: that is an incident, not a hiccup, so the sink stays closed. */
  private removed = false;
  /** Bytes of a half-written last line found (and cut) at start-up: a crash mid-write. */
  repairedBytes = 0;
  /** The start-up found the log's end and its head apart: see LogGap. */
  private gap?: LogGap;
  /** A head file exists (found at start-up or written since). */
  private headOnDisk = false;
  /** Writes (each with one fdatasync) so far: fewer than appends when group commit works. */
  batches = 0;
  private headWriting = false;
  private headStale = false;
  private headTimer?: NodeJS.Timeout;

  private constructor(private readonly options: AuditSinkOptions) {}

  /** Opens the log, recovering the chain's tail; I/O problems leave the sink failed, not thrown. */
  static async open(options: AuditSinkOptions): Promise<AuditFileSink> {
    const sink = new AuditFileSink(options);
    try {
      await sink.recover();
    } catch (error) {
      sink.fail(error);
    }
    return sink;
  }

  health(): SinkHealth {
    return {
      ok: this.failure === undefined,
      file: this.file,
      seq: this.seq,
      error: this.failure?.error,
      since: this.failure?.since,
      ...(this.gap && { gap: this.gap }),
      last: this.position(),
    };
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** The last record written: its seq and hash (seq 0 before any). */
  position(): ChainPoint {
    return { seq: this.seq, hash: this.lastHash };
  }

  /** Resolves once the head file records the last batch written (the pause skipped). */
  async flushHead(): Promise<void> {
    for (let i = 0; i < 10_000 && (!this.commits.idle || this.headWriting || this.headTimer); i++) {
      if (this.headTimer && this.commits.idle && !this.headWriting) {
        clearTimeout(this.headTimer);
        this.headTimer = undefined;
        this.writeHead();
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /**
   * `keygate audit accept-loss`: records in the log that an operator (by) accepted the gap found at
   * start-up, and why; bytes after the last record that are not records are moved to a file of
   * their own beside the segment (never deleted). The chain goes on from the last intact record and
   * the head is written again. Undefined when there is no gap to accept.
   */
  async acceptLoss(by: string, reason: string): Promise<AuditRecord | undefined> {
    const gap = this.gap;
    if (!gap) return undefined;
    let setAside: { file: string; bytes: number; sha256: string } | undefined;
    if (gap.junk) {
      const { segment, offset, bytes } = gap.junk;
      const content = readFileSync(segment).subarray(offset);
      const file = `${segment}.set-aside-${gap.end.seq + 1}`;
      await writeFile(file, content, { flag: 'wx' });
      const handle = await open(segment, 'r+');
      await handle.truncate(offset);
      await handle.datasync();
      await handle.close();
      setAside = {
        file: basename(file),
        bytes,
        sha256: createHash('sha256').update(content).digest('hex'),
      };
      if (this.file === segment) this.size = offset;
    }
    this.gap = undefined;
    this.failure = undefined;
    const [record] = await this.append([
      {
        request_id: `accept-loss-${Date.now()}`,
        event: 'audit.loss_accepted',
        phase: 'succeeded',
        actor: { subject: by, team: 'keygate' },
        target: {},
        loss: {
          problem: gap.message,
          ...(gap.head && { head: gap.head }),
          end: gap.end,
          reason,
          ...(setAside && { set_aside: setAside }),
        },
        note: `loss accepted by ${by}: ${reason}`,
      },
    ]);
    return record;
  }

  /** Appends records in order; resolves once they are on disk. */
  append(entries: AuditEntry[]): Promise<AuditRecord[]> {
    // Appends made in the same turn of the event loop share one batch.
    return this.commits.append(entries);
  }

  async close(): Promise<void> {
    while (!this.commits.idle || this.headWriting || this.headTimer) {
      if (this.headTimer && this.commits.idle) {
        // the last head is written now rather than after the pause
        clearTimeout(this.headTimer);
        this.headTimer = undefined;
        this.writeHead();
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }

  private async write(entries: AuditEntry[]): Promise<AuditRecord[]> {
    if (this.gap) throw new Error(this.gap.message);
    const handle = await this.ready();
    const before = this.size;
    let seq = this.seq;
    let prev = this.lastHash;
    const records: AuditRecord[] = [];
    let text = '';
    for (const entry of entries) {
      const time = new Date().toISOString();
      const { line, hash } = chainLine(++seq, prev, time, entry);
      records.push({ seq, prev_hash: prev, time, ...entry, hash });
      text += line;
      prev = hash;
    }
    const bytes = Buffer.from(text, 'utf8');
    const seconds = (from: bigint) => Number(process.hrtime.bigint() - from) / 1e9;
    const timing = { writeSeconds: 0, syncSeconds: 0 };
    try {
      let written = 0;
      let started = process.hrtime.bigint();
      // A synchronous append to the page cache costs microseconds; only the fdatasync waits on the disk.
      while (written < bytes.length) written += writeSync(handle.fd, bytes, written);
      timing.writeSeconds = seconds(started);
      started = process.hrtime.bigint();
      if (this.options.fsync) await fdatasync(handle.fd);
      timing.syncSeconds = seconds(started);
    } catch (error) {
      // Leave no half batch behind: the next write starts on a clean line.
      await handle.truncate(before).catch(() => undefined);
      this.fail(error);
      throw error;
    }
    this.batches++;
    this.options.observe?.({ records: records.length, ...timing });
    this.size += bytes.length;
    this.seq = seq;
    this.lastHash = prev;
    this.failure = undefined;
    if (!this.headOnDisk) {
      // A log's first head is on disk before its first records are acknowledged: no moment
      // exists with records and no head (which a restart would take for a deleted head).
      this.headOnDisk = await this.writeHeadNow().then(
        () => true,
        () => false,
      );
    } else this.writeHead();
    return records;
  }

  /** The open segment, reopened after a failure, rotated when full, and still the file at its path. */
  private async ready(): Promise<FileHandle> {
    if (this.removed || (this.handle && this.file && this.inoAtPath(this.file) !== this.ino)) {
      this.removed = true;
      const error = Object.assign(
        new Error(
          `${this.file} was removed or replaced while Keygate had it open; restart after investigating`,
        ),
        { code: 'ENOENT' },
      );
      this.fail(error);
      throw error;
    }
    if (this.handle && this.size < this.options.segmentBytes) return this.handle;
    if (this.handle) {
      await this.handle.close();
      this.handle = undefined;
      this.segment++;
    }
    return this.openSegment();
  }

  private inoAtPath(file: string): number | undefined {
    return statSync(file, { throwIfNoEntry: false })?.ino;
  }

  private async openSegment(): Promise<FileHandle> {
    if (this.segment === 0) this.segment = 1;
    const file = join(this.options.dir, segmentName(this.segment));
    try {
      const handle = await open(file, 'a');
      const stat = await handle.stat();
      this.handle = handle;
      this.file = file;
      this.ino = stat.ino;
      this.size = stat.size;
      return handle;
    } catch (error) {
      this.fail(error);
      throw error;
    }
  }

  /**
   * Finds the chain's last record; cuts a half-written last line (never acknowledged) if a crash
   * left one. Then the log's end must match its MAC'd head (the head may trail the log by the
   * records of its last pause, which must chain on from it): otherwise the gap is kept and every
   * write refused until the loss is accepted.
   */
  private async recover(): Promise<void> {
    if (!statSync(this.options.dir).isDirectory())
      throw Object.assign(new Error(`${this.options.dir} is not a directory`), { code: 'ENOTDIR' });
    const head = readHead(this.options.dir);
    this.headOnDisk = head !== undefined;
    const segments = listSegments(this.options.dir);
    /** The complete lines of each segment read so far, newest segment first. */
    const read: { file: string; lines: Buffer[]; starts: number[] }[] = [];
    let end: ChainPoint = { seq: 0, hash: GENESIS_HASH };
    let junk: LogGap['junk'];
    let problem: string | undefined;
    for (let i = segments.length - 1; i >= 0; i--) {
      let bytes = readFileSync(segments[i]);
      this.segment = Math.max(this.segment, segmentNumber(segments[i]));
      const complete = bytes.lastIndexOf(0x0a) + 1;
      if (complete < bytes.length && i === segments.length - 1) {
        this.repairedBytes = bytes.length - complete;
        const handle = await open(segments[i], 'r+');
        await handle.truncate(complete);
        await handle.datasync();
        await handle.close();
        bytes = bytes.subarray(0, complete);
      }
      const lines: Buffer[] = [];
      const starts: number[] = [];
      for (let at = 0; at < bytes.length;) {
        const nl = bytes.indexOf(0x0a, at);
        starts.push(at);
        lines.push(bytes.subarray(at, nl));
        at = nl + 1;
      }
      read.push({ file: segments[i], lines, starts });
      if (lines.length === 0) continue;
      const last = parseChainBytes(lines[lines.length - 1]);
      if (!last || !last.intact) {
        // Not a crash (a torn line has no newline): something that is not a record was written.
        let good = lines.length - 1;
        while (good > 0 && !parseChainBytes(lines[good - 1])?.intact) good--;
        const before = good > 0 ? parseChainBytes(lines[good - 1]) : undefined;
        if (before) end = { seq: before.seq, hash: before.hash };
        junk = { segment: segments[i], offset: starts[good], bytes: bytes.length - starts[good] };
        problem = `line ${lines.length} of ${basename(segments[i])} is not a chained audit record (the log must end with one)`;
      } else end = { seq: last.seq, hash: last.hash };
      break;
    }
    problem ??= this.headProblem(head, end, read);
    this.seq = end.seq;
    this.lastHash = end.hash;
    if (problem) {
      const at = (p: ChainPoint) => `seq ${p.seq} (hash ${p.hash.slice(0, 12)}…)`;
      const valid = head && head.seq >= 0 ? { seq: head.seq, hash: head.hash } : undefined;
      this.gap = {
        message: `${problem}: the log ends at ${at(end)}${valid ? ` and its head records ${at(valid)}` : ''}; changes are refused until an operator accepts the loss (keygate audit accept-loss --by NAME --reason TEXT)`,
        ...(valid && { head: valid }),
        end,
        ...(junk && { junk }),
      };
      this.failure = { error: this.gap.message, since: new Date().toISOString() };
    }
    await this.openSegment();
  }

  /** Why the log's end is not the head's point (undefined when it is, or a fresh log without either). */
  private headProblem(
    head: ReturnType<typeof readHead>,
    end: ChainPoint,
    read: { lines: Buffer[] }[],
  ): string | undefined {
    if (!head) return end.seq > 0 ? 'the log has records but no head file' : undefined;
    if (head.seq < 0 || typeof head.hash !== 'string' || !Number.isInteger(head.seq))
      return 'the head file cannot be read';
    const key = this.options.hmacKey;
    if (
      !sameMac(head.mac, headMac(key, head.seq, head.hash)) &&
      !sameMac(head.mac, legacyHeadMac(key, head.seq, head.hash))
    )
      return 'the head file is not Keygate’s (its MAC does not match the audit key)';
    if (head.seq > end.seq) return 'records were cut from the end';
    if (head.seq === end.seq)
      return head.hash === end.hash
        ? undefined
        : `record seq ${end.seq} is not the one the head recorded`;
    // The head trails the log: the records after it must chain on from the head's record.
    let expected: ChainPoint | undefined;
    const after: { seq: number; prevHash: string; hash: string; intact: boolean }[] = [];
    for (const { lines } of read) {
      for (let i = lines.length - 1; i >= 0 && !expected; i--) {
        const parsed = parseChainBytes(lines[i]);
        if (!parsed) return `a line after the head's seq ${head.seq} is not a chained audit record`;
        if (parsed.seq === head.seq) expected = parsed;
        else after.unshift(parsed);
      }
      if (expected) break;
    }
    if (!expected || expected.hash !== head.hash)
      return `record seq ${head.seq} is not the one the head recorded`;
    let prev = expected;
    for (const r of after) {
      if (!r.intact || r.seq !== prev.seq + 1 || r.prevHash !== prev.hash)
        return `the records after the head's seq ${head.seq} do not chain on from it`;
      prev = r;
    }
    return undefined;
  }

  /**
   * Records the last seq and hash (MAC'd) in the head file, off the request path: at most one write
   * in flight and one every HEAD_PAUSE_MS under load, the latest state written next. The head only
   * has to be no further than the log; it trails it by at most about that pause.
   */
  private writeHead(): void {
    if (this.headWriting || this.headTimer) {
      this.headStale = true;
      return;
    }
    this.headWriting = true;
    this.writeHeadNow()
      .catch(() => undefined) // the head only helps catch a cut tail; the records are already durable
      .finally(() => {
        this.headWriting = false;
        if (this.headStale) {
          this.headStale = false;
          this.headTimer = setTimeout(() => {
            this.headTimer = undefined;
            this.writeHead();
          }, HEAD_PAUSE_MS).unref();
        }
      });
  }

  /** The head file, now: written aside, then renamed over it (a reader sees the old or the new, never half). */
  private async writeHeadNow(): Promise<void> {
    const head = {
      seq: this.seq,
      hash: this.lastHash,
      time: new Date().toISOString(),
      mac: headMac(this.options.hmacKey, this.seq, this.lastHash),
    };
    const file = headFileFor(this.options.dir);
    await writeFile(`${file}.tmp`, `${JSON.stringify(head)}\n`);
    await rename(`${file}.tmp`, file);
  }

  private fail(error: unknown): void {
    const message = describe(error);
    if (this.failure?.error !== message)
      this.failure = { error: message, since: new Date().toISOString() };
    this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}
