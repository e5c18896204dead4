import type { VendorResponse } from '@app/upstream';

export type Entity = Record<string, unknown>;

/** A string for Octane's query language: `'...'` with `\` and `'` escaped. */
export const octaneQuoted = (s: string): string =>
  `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The vendor's answer, when it answers the question; otherwise the question stays open (throws). */
export function conclusive(answer: VendorResponse): Entity {
  if (
    answer.status < 200 ||
    answer.status >= 300 ||
    typeof answer.body !== 'object' ||
    answer.body === null
  ) {
    throw new Error(`inconclusive: the vendor answered ${answer.status}`);
  }
  return answer.body as Entity;
}

/** The list in a vendor answer (Qwiet `response`, Octane `data`), or the question stays open. */
export function listIn(answer: VendorResponse, key: 'response' | 'data'): Entity[] {
  const list = conclusive(answer)[key];
  if (!Array.isArray(list)) throw new Error('inconclusive: the vendor answered no list');
  return list as Entity[];
}

export const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
