import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import type { PoolClient } from 'pg';
import { HEAD_FILE, listSegments, segmentName } from '@app/audit';
import { copyLines, copyUnescape } from './copy-lines';
import type { Database } from './database';

const NEWLINE = Buffer.from('\n');

export interface LedgerExportOptions {
  /** The directory to write: created if missing; refused if it already holds a log. */
  dir: string;
  /** Rotation size of the segments, as the file sink's AUDIT_SEGMENT_BYTES (default 64 MiB). */
  segmentBytes?: number;
  /** Records per page read (default 5,000). */
  pageSize?: number;
}

export interface LedgerExportResult {
  records: number;
  /** The segment files written, in order (base names). */
  segments: string[];
  /** The head written: the ledger's head row as it was when the export began. */
  head: { seq: number; hash: string; mac: string; time: string };
}

/** The directory already holds an audit log (or the ledger has nothing to export). */
export class LedgerExportRefused extends Error {
  override readonly name = 'LedgerExportRefused';
}

/**
 * Writes the ledger as the file log's segments and head: each record's exact stored line (the
 * bytes its hash covers) and a newline, in seq order from seq 1 to the ledger's head, rotating
 * to the next segment once one reaches `segmentBytes` (as AuditFileSink does), then the head file
 * with the head row's seq, hash and MAC (the same head key as the file log's). Read in pages (COPY)
 * of one REPEATABLE READ snapshot, so the head and the records are one state whatever
 * instances append meanwhile; never the whole ledger in memory. `keygate audit verify DIR` checks
 * the result offline.
 */
export async function exportLedger(
  database: Database,
  options: LedgerExportOptions,
): Promise<LedgerExportResult> {
  const { dir } = options;
  const segmentBytes = options.segmentBytes ?? 64 << 20;
  const pageSize = options.pageSize ?? 5_000;
  mkdirSync(dir, { recursive: true });
  if (listSegments(dir).length > 0 || existsSync(join(dir, HEAD_FILE)))
    throw new LedgerExportRefused(
      `${dir} already holds an audit log: export into an empty directory`,
    );
  const client: PoolClient = await database.pool.connect();
  let broken: Error | undefined;
  let fd: number | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const row = (
      await client.query<{ seq: string; hash: string; mac: string; time: Date }>(
        'SELECT seq, hash, mac, updated_at AS time FROM ledger_head',
      )
    ).rows[0];
    if (!row) throw new LedgerExportRefused('the ledger has no head: nothing to export');
    const head = {
      seq: Number(row.seq),
      hash: row.hash,
      mac: row.mac,
      time: row.time.toISOString(),
    };
    const segments: string[] = [];
    let size = 0;
    let records = 0;
    const open = () => {
      if (fd !== undefined) {
        fsyncSync(fd);
        closeSync(fd);
      }
      segments.push(segmentName(segments.length + 1));
      fd = openSync(join(dir, segments[segments.length - 1]), 'wx');
      size = 0;
    };
    open();
    // Pages of seq ranges read with COPY: each line's bytes as stored (a line COPY escaped is put
    // back), written as they come, rotating before the record that would go past the size.
    for (let from = 0; from < head.seq; from += pageSize) {
      const page = await copyLines(client, from, Math.min(from + pageSize, head.seq));
      const pending: Buffer[] = [];
      let backslash = -1;
      for (let s = 0; s < page.length;) {
        let e = page.indexOf(0x0a, s);
        if (e < 0) e = page.length;
        if (backslash < s) {
          backslash = page.indexOf(0x5c, s);
          if (backslash < 0) backslash = page.length;
        }
        const line =
          backslash < e
            ? Buffer.concat([copyUnescape(page.subarray(s, e)), NEWLINE])
            : page.subarray(s, e + 1);
        // Rotate as the sink does: a segment that reached the size takes no more records.
        if (size >= segmentBytes && records > 0) {
          if (pending.length > 0) writevSync(fd as number, pending.splice(0));
          open();
        }
        pending.push(line);
        size += line.length;
        records++;
        s = e + 1;
      }
      if (pending.length > 0) writevSync(fd as number, pending);
    }
    fsyncSync(fd as number);
    closeSync(fd as number);
    fd = undefined;
    await client.query('COMMIT');
    // The head last, written aside and renamed (as the sink does): a reader never sees half.
    const headFile = join(dir, HEAD_FILE);
    writeHead(`${headFile}.tmp`, head);
    renameSync(`${headFile}.tmp`, headFile);
    return { records, segments, head };
  } catch (error) {
    broken = error instanceof LedgerExportRefused ? undefined : (error as Error);
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    if (fd !== undefined) closeSync(fd);
    client.release(broken);
  }
}

function writeHead(file: string, head: LedgerExportResult['head']): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(
      fd,
      `${JSON.stringify({ seq: head.seq, hash: head.hash, time: head.time, mac: head.mac })}\n`,
    );
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
