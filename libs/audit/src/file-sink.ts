import { fdatasync as fdatasyncCallback, readFileSync, statSync, writeSync } from 'node:fs';
import { FileHandle, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEntry, AuditRecord } from './audit.types';
import { chainLine, GENESIS_HASH, parseChainBytes } from './chain';
import { headMac } from './fingerprint';
import { headFileFor, listSegments, segmentName, segmentNumber } from './segments';

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

interface Pending {
  entries: AuditEntry[];
  resolve: (records: AuditRecord[]) => void;
  reject: (error: AuditUnavailableError) => void;
}

export interface SinkHealth {
  ok: boolean;
  file?: string;
  seq: number;
  error?: string;
  since?: string;
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
  private queue: Pending[] = [];
  private flushing = false;
  private failure?: { error: string; since: string };
  /** Set when the open segment vanished from its path: that is an incident, not a hiccup, so the sink stays closed. */
  private removed = false;
  /** Bytes of a half-written last line found (and cut) at start-up: a crash mid-write. */
  repairedBytes = 0;
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
    };
  }

  get lastSeq(): number {
    return this.seq;
  }

  /** Appends records in order; resolves once they are on disk. */
  append(entries: AuditEntry[]): Promise<AuditRecord[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, resolve, reject });
      // Appends made in the same turn of the event loop share one batch.
      if (this.queue.length === 1 && !this.flushing) setImmediate(() => void this.drain());
    });
  }

  async close(): Promise<void> {
    while (this.flushing || this.queue.length > 0 || this.headWriting || this.headTimer) {
      if (this.headTimer && !this.flushing) {
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

  private async drain(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        const records = await this.write(batch.flatMap((p) => p.entries));
        let at = 0;
        for (const p of batch) {
          p.resolve(records.slice(at, at + p.entries.length));
          at += p.entries.length;
        }
      } catch (error) {
        const unavailable = new AuditUnavailableError(
          `audit log ${this.file ?? this.options.dir} cannot be written (${describe(error)})`,
        );
        for (const p of batch) p.reject(unavailable);
      }
    }
    this.flushing = false;
  }

  private async write(entries: AuditEntry[]): Promise<AuditRecord[]> {
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
    this.writeHead();
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

  /** Finds the chain's last record; cuts a half-written last line (never acknowledged) if a crash left one. */
  private async recover(): Promise<void> {
    if (!statSync(this.options.dir).isDirectory())
      throw Object.assign(new Error(`${this.options.dir} is not a directory`), { code: 'ENOTDIR' });
    const segments = listSegments(this.options.dir);
    for (let i = segments.length - 1; i >= 0; i--) {
      const text = readFileSync(segments[i], 'utf8');
      this.segment = Math.max(this.segment, segmentNumber(segments[i]));
      const complete = text.lastIndexOf('\n') + 1;
      if (complete < Buffer.byteLength(text) && i === segments.length - 1) {
        const keep = Buffer.byteLength(text.slice(0, complete));
        this.repairedBytes = Buffer.byteLength(text) - keep;
        const handle = await open(segments[i], 'r+');
        await handle.truncate(keep);
        await handle.datasync();
        await handle.close();
      }
      const lines = text.slice(0, complete).split('\n').filter(Boolean);
      const last =
        lines.length > 0 ? parseChainBytes(Buffer.from(lines[lines.length - 1])) : undefined;
      if (last) {
        this.seq = last.seq;
        this.lastHash = last.hash;
        break;
      }
    }
    await this.openSegment();
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
    const head = {
      seq: this.seq,
      hash: this.lastHash,
      time: new Date().toISOString(),
      mac: headMac(this.options.hmacKey, this.seq, this.lastHash),
    };
    // Written aside, then renamed over the head: a reader sees the old head or the new, never half.
    const file = headFileFor(this.options.dir);
    writeFile(`${file}.tmp`, `${JSON.stringify(head)}\n`)
      .then(() => rename(`${file}.tmp`, file))
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

  private fail(error: unknown): void {
    const message = describe(error);
    if (this.failure?.error !== message)
      this.failure = { error: message, since: new Date().toISOString() };
    this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }
}
