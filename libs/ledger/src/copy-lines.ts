import type { PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';

/**
 * The stored lines of the records with seq in (from, to], in seq order, as `COPY ... TO STDOUT`
 * writes them: each line's bytes and a newline (no chained line holds a newline), straight off the
 * wire, no string per record. A line with a backslash in it comes escaped (see copyUnescape). The
 * bounds are integers, written into the statement (COPY takes no parameters).
 */
export function copyLines(session: PoolClient, from: number, to: number): Promise<Buffer> {
  const stream = session.query(
    copyTo(
      `COPY (SELECT line FROM ledger_records WHERE seq > ${Math.trunc(from)} AND seq <= ${Math.trunc(to)} ORDER BY seq) TO STDOUT`,
    ),
  );
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/**
 * How verify reads a page: `text` (COPY's text format, one line per record, a backslash escaped),
 * `binary` (COPY's binary format, one field per record: the stored bytes, no escaping), or
 * `binary-agg` (binary, one field per page: the page's lines joined by newlines on the server).
 */
export type CopyFormat = 'text' | 'binary' | 'binary-agg';

/** A page of records with seq in (from, to] in the given COPY format (see CopyFormat), in a buffer of its own. */
export function copyPage(
  session: PoolClient,
  from: number,
  to: number,
  format: CopyFormat,
): Promise<Buffer> {
  const range = `seq > ${Math.trunc(from)} AND seq <= ${Math.trunc(to)}`;
  const select =
    format === 'binary-agg'
      ? `SELECT string_agg(line, E'\\n' ORDER BY seq) FROM ledger_records WHERE ${range}`
      : `SELECT line FROM ledger_records WHERE ${range} ORDER BY seq`;
  const stream = session.query(
    copyTo(`COPY (${select}) TO STDOUT${format === 'text' ? '' : ' (FORMAT binary)'}`),
  );
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    // Always a copy of its own (never a slice of the connection's buffers): it may be handed to
    // a worker thread whole.
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** A line of COPY's text output as it is stored: `\\` is a backslash, `\n` a newline, and so on. */
export function copyUnescape(line: Buffer): Buffer {
  const out = Buffer.allocUnsafe(line.length);
  let o = 0;
  for (let i = 0; i < line.length; i++) {
    let c = line[i];
    if (c === 0x5c && i + 1 < line.length) {
      const n = line[++i];
      c = COPY_ESCAPES[n] ?? n;
    }
    out[o++] = c;
  }
  return out.subarray(0, o);
}
/** b f n r t v after a backslash. */
const COPY_ESCAPES: Record<number, number> = {
  0x62: 0x08,
  0x66: 0x0c,
  0x6e: 0x0a,
  0x72: 0x0d,
  0x74: 0x09,
  0x76: 0x0b,
};
