import { createHash } from 'node:crypto';
import type { AuditEntry } from './audit.types';

/** prev_hash of the very first record. */
export const GENESIS_HASH = '0'.repeat(64);
export const HASH_FIELD = ',"hash":"';
const LINE_PREFIX = /^\{"seq":(\d+),"prev_hash":"([0-9a-f]{64})","time":"([^"]{1,40})",/;

/**
 * One record as a JSON line, chained: the line starts with `seq` and `prev_hash` and ends with
 * `hash` = SHA-256 of everything before `,"hash":` plus the closing brace. Verifying a line needs
 * no JSON re-serialisation, so any changed byte shows.
 */
export function chainLine(
  seq: number,
  prevHash: string,
  time: string,
  entry: AuditEntry,
): { line: string; hash: string } {
  // Same bytes as JSON.stringify({ seq, prev_hash, time, ...entry }), without copying the entry.
  const fields = JSON.stringify(entry);
  const body = `{"seq":${seq},"prev_hash":"${prevHash}","time":${JSON.stringify(time)}${fields === '{}' ? '}' : `,${fields.slice(1)}`}`;
  const hash = createHash('sha256').update(body).digest('hex');
  return { line: `${body.slice(0, -1)}${HASH_FIELD}${hash}"}\n`, hash };
}

export interface ParsedLine {
  seq: number;
  prevHash: string;
  time: string;
  hash: string;
  /** False when the stored hash is not the hash of the line. */
  intact: boolean;
}

const TAIL = Buffer.from(HASH_FIELD).length + 66;

/**
 * Reads the chain fields of one line (its bytes, without the newline); undefined when it is not a
 * chained record. Works on bytes so the verifier's loop makes no string of the body.
 */
export function parseChainBytes(line: Buffer): ParsedLine | undefined {
  const at = line.length - TAIL;
  if (
    at <= 0 ||
    line[line.length - 1] !== 0x7d ||
    line.toString('latin1', at, at + HASH_FIELD.length) !== HASH_FIELD
  )
    return undefined;
  const prefix = LINE_PREFIX.exec(line.toString('latin1', 0, Math.min(line.length, 200)));
  if (!prefix) return undefined;
  const hash = line.toString('latin1', at + HASH_FIELD.length, line.length - 2);
  const actual = createHash('sha256').update(line.subarray(0, at)).update('}').digest('hex');
  return {
    seq: Number(prefix[1]),
    prevHash: prefix[2],
    time: prefix[3],
    hash,
    intact: actual === hash,
  };
}
