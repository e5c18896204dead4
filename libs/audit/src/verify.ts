import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { GENESIS_HASH, parseChainBytes, ParsedLine } from './chain';
import { headMac } from './fingerprint';
import { headFileFor, listSegments } from './segments';

export type ProblemKind = 'altered' | 'missing' | 'reordered' | 'truncated' | 'malformed';

export interface VerifyProblem {
  kind: ProblemKind;
  segment: string;
  /** 1-based line in the segment. */
  line: number;
  seq?: number;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  segments: number;
  first?: { seq: number; time: string };
  last?: { seq: number; time: string; hash: string };
  /** What the head file (last seq and hash, MAC'd with the audit key) says about the end of the log. */
  head: 'matches' | 'not written yet' | 'unverified (no key)' | 'no head file' | 'mismatch';
  problem?: VerifyProblem;
  /** In words: what a passing run proves, and what it does not. */
  proves: string;
}

interface Head {
  seq: number;
  hash: string;
  mac?: string;
}

function readHead(dir: string): Head | undefined {
  const file = headFileFor(dir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Head;
  } catch {
    return { seq: -1, hash: '' };
  }
}

/** Offsets where the lines of a segment start (an empty segment has none). */
function lineStarts(bytes: Buffer): number[] {
  const starts: number[] = [];
  for (let at = 0; at < bytes.length;) {
    starts.push(at);
    const nl = bytes.indexOf(0x0a, at);
    if (nl < 0) break;
    at = nl + 1;
  }
  return starts;
}

/**
 * Walks the hash chain of an audit directory (every segment, in order) or of one segment file, and
 * names the first record that is altered, missing, reordered, malformed or truncated.
 */
export function verifyAuditLog(path: string, key?: string): VerifyResult {
  const isDir = statSync(path).isDirectory();
  // The head first: a live log only grows, so a head read before the records can never be ahead of them.
  const head = isDir ? readHead(path) : undefined;
  const segments = listSegments(path);
  let records = 0;
  let prev: ParsedLine | undefined;
  let first: VerifyResult['first'];
  let headSeen: ParsedLine | undefined;

  const fail = (problem: VerifyProblem, head: VerifyResult['head'] = 'mismatch'): VerifyResult => ({
    ok: false,
    records,
    segments: segments.length,
    first,
    last: prev && { seq: prev.seq, time: prev.time, hash: prev.hash },
    head,
    problem,
    proves: 'nothing beyond the records before the problem',
  });

  for (const segment of segments) {
    const bytes = readFileSync(segment);
    const name = basename(segment);
    if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) {
      const lineNo = lineStarts(bytes).length;
      return fail({
        kind: 'truncated',
        segment: name,
        line: lineNo,
        message: `${name} ends in the middle of line ${lineNo}: the tail was cut`,
      });
    }
    const starts = lineStarts(bytes);
    // Every line ends with a newline (a cut tail was refused above), so each ends one byte before the next.
    const lineAt = (i: number) => bytes.subarray(starts[i], (starts[i + 1] ?? bytes.length) - 1);
    for (let i = 0; i < starts.length; i++) {
      const parsed = parseChainBytes(lineAt(i));
      const at = { segment: name, line: i + 1 };
      if (!parsed)
        return fail({
          kind: 'malformed',
          ...at,
          message: `line ${i + 1} of ${name} is not a chained audit record`,
        });
      if (!parsed.intact) {
        return fail({
          kind: 'altered',
          ...at,
          seq: parsed.seq,
          message: `record seq ${parsed.seq} was altered: its hash does not match its content`,
        });
      }
      if (prev) {
        const expected = prev.seq + 1;
        if (parsed.seq !== expected) {
          const next = i + 1 < starts.length ? parseChainBytes(lineAt(i + 1)) : undefined;
          const swapped = parsed.seq < expected || next?.seq === expected;
          return fail({
            kind: swapped ? 'reordered' : 'missing',
            ...at,
            seq: parsed.seq,
            message: swapped
              ? `record seq ${parsed.seq} stands where seq ${expected} belongs: records were reordered`
              : `records seq ${expected} to ${parsed.seq - 1} are missing`,
          });
        }
        if (parsed.prevHash !== prev.hash) {
          return fail({
            kind: 'altered',
            ...at,
            seq: parsed.seq,
            message: `record seq ${parsed.seq} does not chain to seq ${prev.seq}: a record was replaced`,
          });
        }
      } else {
        if (parsed.seq === 1 && parsed.prevHash !== GENESIS_HASH) {
          return fail({
            kind: 'altered',
            ...at,
            seq: 1,
            message: 'record seq 1 does not start the chain',
          });
        }
        first = { seq: parsed.seq, time: parsed.time };
      }
      if (head && parsed.seq === head.seq) headSeen = parsed;
      prev = parsed;
      records++;
    }
  }

  let headState: VerifyResult['head'] = isDir ? 'no head file' : 'unverified (no key)';
  if (head) {
    const lastSeq = prev?.seq ?? 0;
    if (head.seq > lastSeq) {
      return fail({
        kind: 'truncated',
        segment: segments.length > 0 ? basename(segments[segments.length - 1]) : '(none)',
        line: 0,
        seq: lastSeq,
        message: `the log ends at seq ${lastSeq} but its head records seq ${head.seq}: records were cut from the end`,
      });
    }
    if (!headSeen || headSeen.hash !== head.hash) {
      return fail({
        kind: 'altered',
        segment: '(head)',
        line: 0,
        seq: head.seq,
        message: `record seq ${head.seq} is not the one the head recorded`,
      });
    }
    if (key === undefined) headState = 'unverified (no key)';
    else if (head.mac !== headMac(key, head.seq, head.hash)) {
      return fail({
        kind: 'altered',
        segment: '(head)',
        line: 0,
        seq: head.seq,
        message: 'the head file was altered (its MAC does not match the audit key)',
      });
    } else headState = 'matches';
  }
  return {
    ok: true,
    records,
    segments: segments.length,
    first,
    last: prev && { seq: prev.seq, time: prev.time, hash: prev.hash },
    head: headState,
    proves:
      `${records} records in ${segments.length} segment(s) form one unbroken hash chain` +
      (first && first.seq > 1
        ? ` starting after seq ${first.seq - 1} (earlier segments absent)`
        : '') +
      (headState === 'matches'
        ? ', and the log is not shorter than its last MAC-signed head'
        : '') +
      '. It does not prove that a writer holding the files did not rewrite the whole chain.',
  };
}
