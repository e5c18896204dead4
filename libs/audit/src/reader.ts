import { readFileSync } from 'node:fs';
import type { AuditRecord } from './audit.types';
import { listSegments } from './segments';

/** Every record of an audit directory, newest first (lines that are not records are skipped). */
export function* readRecordsNewestFirst(dir: string): Generator<AuditRecord> {
  const segments = listSegments(dir);
  for (let s = segments.length - 1; s >= 0; s--) {
    const lines = readFileSync(segments[s], 'utf8').split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      if (!lines[i]) continue;
      try {
        yield JSON.parse(lines[i]) as AuditRecord;
      } catch {
        // a torn line (crash mid-write) holds no record
      }
    }
  }
}

/** Every record, oldest first. */
export function readRecords(dir: string): AuditRecord[] {
  return [...readRecordsNewestFirst(dir)].reverse();
}
