import { lstatSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const SEGMENT_PATTERN = /^keygate-audit-(\d{6})\.jsonl$/;
export const HEAD_FILE = 'keygate-audit.head';

export const segmentName = (n: number): string =>
  `keygate-audit-${String(n).padStart(6, '0')}.jsonl`;

/** The segment files of an audit directory, oldest first (or the one file given). */
export function listSegments(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  // Only regular files: a link or device in the directory is not a segment Keygate wrote.
  return readdirSync(path)
    .filter((name) => SEGMENT_PATTERN.test(name) && lstatSync(join(path, name)).isFile())
    .sort()
    .map((name) => join(path, name));
}

export const segmentNumber = (file: string): number =>
  Number(SEGMENT_PATTERN.exec(basename(file))?.[1] ?? 0);
export const headFileFor = (dir: string): string => join(dir, HEAD_FILE);
export const auditDirOf = (file: string): string => dirname(file);
