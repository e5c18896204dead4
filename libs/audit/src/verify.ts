import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { GENESIS_HASH, parseChainBytes, ParsedLine } from './chain';
import { checkpointMac, headMac, legacyHeadMac, sameMac } from './keys';
import { headFileFor, listSegments } from './segments';

/**
 * altered, missing, reordered, truncated, malformed: records; unanchored: the chain does not start
 * at seq 1 (or at the anchor given); empty: no record at all; head: no head file, or no key to
 * check it; rollback: the log no longer holds a checkpoint's point; checkpoint: a forged checkpoint.
 */
export type ProblemKind =
  | 'altered'
  | 'missing'
  | 'reordered'
  | 'truncated'
  | 'malformed'
  | 'unanchored'
  | 'empty'
  | 'head'
  | 'rollback'
  | 'checkpoint';

/** A point of the chain: a record's seq and hash. */
export interface ChainPoint {
  seq: number;
  hash: string;
}

export interface VerifyOptions {
  /** Verify the chain alone, on purpose: a missing or unverifiable head is then no failure. */
  noHead?: boolean;
  /** The record just before the first one present (its seq and hash), for a log verified in part on purpose. */
  anchor?: ChainPoint;
  /** A point witnessed outside the log (a signed checkpoint): the log must still contain it exactly. */
  checkpoint?: ChainPoint & { mac?: string };
}

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
  /**
   * What the head file (last seq and hash, MAC'd with the head key) says about the end of the log;
   * 'legacy head': MAC'd with the raw key by an earlier release, matching exactly.
   */
  head:
    | 'matches'
    | 'legacy head'
    | 'unverified (no key)'
    | 'no head file'
    | 'mismatch'
    | 'not checked (--no-head)';
  /** The checkpoint given: the log holds it. */
  checkpoint?: 'contained';
  problem?: VerifyProblem;
  /** In words: what a passing run proves, and what it does not. */
  proves: string;
}

export interface Head {
  seq: number;
  hash: string;
  mac?: string;
}

/** The head file of an audit directory; seq -1 when it cannot be read. */
export function readHead(dir: string): Head | undefined {
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
export function verifyAuditLog(
  path: string,
  key?: string,
  options: VerifyOptions = {},
): VerifyResult {
  const { noHead = false, anchor, checkpoint } = options;
  const isDir = statSync(path).isDirectory();
  // The head first: a live log only grows, so a head read before the records can never be ahead of them.
  const head = isDir ? readHead(path) : undefined;
  const segments = listSegments(path);
  let records = 0;
  let prev: ParsedLine | undefined;
  let first: VerifyResult['first'];
  let headSeen: ParsedLine | undefined;
  let checkpointSeen: ParsedLine | undefined;

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
        // The chain starts at seq 1 from the genesis hash, or right after the anchor given.
        const start = anchor ?? { seq: 0, hash: GENESIS_HASH };
        if (parsed.seq !== start.seq + 1) {
          return fail({
            kind: 'unanchored',
            ...at,
            seq: parsed.seq,
            message: anchor
              ? `the log starts at seq ${parsed.seq}, not right after the anchor seq ${anchor.seq}`
              : `the log starts at seq ${parsed.seq}, not at seq 1: earlier records are missing (--anchor SEQ:HASH of the record before it verifies a part on purpose)`,
          });
        }
        if (parsed.prevHash !== start.hash) {
          return fail({
            kind: 'altered',
            ...at,
            seq: parsed.seq,
            message: anchor
              ? `record seq ${parsed.seq} does not chain to the anchor's hash`
              : 'record seq 1 does not start the chain',
          });
        }
        first = { seq: parsed.seq, time: parsed.time };
      }
      if (head && parsed.seq === head.seq) headSeen = parsed;
      if (checkpoint && parsed.seq === checkpoint.seq) checkpointSeen = parsed;
      prev = parsed;
      records++;
    }
  }

  const lastName = segments.length > 0 ? basename(segments[segments.length - 1]) : '(none)';
  let headState: VerifyResult['head'] = noHead ? 'not checked (--no-head)' : 'no head file';
  if (head && !noHead) {
    const lastSeq = prev?.seq ?? 0;
    if (head.seq > lastSeq) {
      return fail({
        kind: 'truncated',
        segment: lastName,
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
    if (key === undefined) {
      return fail(
        {
          kind: 'head',
          segment: '(head)',
          line: 0,
          seq: head.seq,
          message:
            'head unverified: no key (AUDIT_HMAC_KEY) to check its MAC, so records cut from the end would not show (--no-head to verify the chain alone)',
        },
        'unverified (no key)',
      );
    }
    if (sameMac(head.mac, headMac(key, head.seq, head.hash))) headState = 'matches';
    else if (sameMac(head.mac, legacyHeadMac(key, head.seq, head.hash))) headState = 'legacy head';
    else {
      return fail({
        kind: 'altered',
        segment: '(head)',
        line: 0,
        seq: head.seq,
        message: 'the head file was altered (its MAC does not match the audit key)',
      });
    }
  } else if (!noHead) {
    return fail(
      {
        kind: 'head',
        segment: isDir ? '(head)' : basename(path),
        line: 0,
        message: isDir
          ? 'no head file: records cut from the end together with it would not show (--no-head to verify the chain alone)'
          : 'a single segment has no head: records cut from its end would not show (--no-head to verify its chain alone)',
      },
      'no head file',
    );
  }
  if (records === 0) {
    return fail({
      kind: 'empty',
      segment: lastName,
      line: 0,
      message: 'the log holds no record: nothing shows it was not emptied',
    });
  }
  if (checkpoint) {
    if (
      checkpoint.mac !== undefined &&
      key !== undefined &&
      !sameMac(checkpoint.mac, checkpointMac(key, checkpoint.seq, checkpoint.hash))
    ) {
      return fail({
        kind: 'checkpoint',
        segment: '(checkpoint)',
        line: 0,
        seq: checkpoint.seq,
        message: 'the checkpoint given was not signed with this audit key',
      });
    }
    if (!checkpointSeen || checkpointSeen.hash !== checkpoint.hash) {
      return fail({
        kind: 'rollback',
        segment: checkpointSeen ? '(checkpoint)' : lastName,
        line: 0,
        seq: checkpoint.seq,
        message: checkpointSeen
          ? `record seq ${checkpoint.seq} is not the checkpoint's: the log was rewritten after it`
          : `the log does not contain the checkpoint's seq ${checkpoint.seq} (it ends at seq ${prev?.seq ?? 0}): it was rolled back or cut`,
      });
    }
  }
  return {
    ok: true,
    records,
    segments: segments.length,
    first,
    last: prev && { seq: prev.seq, time: prev.time, hash: prev.hash },
    head: headState,
    ...(checkpoint && { checkpoint: 'contained' as const }),
    proves:
      `${records} records in ${segments.length} segment(s) form one unbroken hash chain` +
      (anchor ? ` starting right after the anchor seq ${anchor.seq}` : ' starting at seq 1') +
      (headState === 'matches' || headState === 'legacy head'
        ? `, and the log is not shorter than its last MAC-signed head${headState === 'legacy head' ? ' (MAC of an earlier release, raw key)' : ''}`
        : ', the head not checked (--no-head): records cut from the end would not show') +
      (checkpoint ? `, and it still contains the checkpoint seq ${checkpoint.seq}` : '') +
      '. It does not prove that a writer holding the files did not rewrite the whole chain.',
  };
}
