import type { AuditEntry, AuditRecord } from './audit.types';

interface Pending {
  entries: AuditEntry[];
  resolve: (records: AuditRecord[]) => void;
  reject: (error: Error) => void;
}

/**
 * Group commit, for any store of the chain (the file log, the PostgreSQL ledger): appends made in
 * the same turn of the event loop, and those that arrive while a batch is being written, share one
 * write. Each caller gets its own records back, in order; when the write fails every caller of the
 * batch gets `refuse(error)`.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly write: (entries: AuditEntry[]) => Promise<AuditRecord[]>,
    private readonly refuse: (error: unknown) => Error,
  ) {}

  append(entries: AuditEntry[]): Promise<AuditRecord[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entries, resolve, reject });
      if (this.queue.length === 1 && !this.flushing) setImmediate(() => void this.drain());
    });
  }

  /** Nothing queued and no batch being written. */
  get idle(): boolean {
    return !this.flushing && this.queue.length === 0;
  }

  /** Resolves once every append made so far has been written (or refused). */
  async settled(): Promise<void> {
    while (!this.idle) await new Promise((resolve) => setImmediate(resolve));
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
        const refused = this.refuse(error);
        for (const p of batch) p.reject(refused);
      }
    }
    this.flushing = false;
  }
}
