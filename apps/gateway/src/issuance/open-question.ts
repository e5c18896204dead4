import { AuditRecord, SECRET_ISSUING_EVENTS } from '@app/audit';
import { SETTLING_NOTE } from '@app/common';

const MAY_HAVE_ACTED = new Set(['unreachable', 'timeout', 'bad_response']);

const SETTLED = new RegExp(SETTLING_NOTE);

/** Why a request is open when its attempt has no outcome at all: a crash between the two. */
export const CRASH_RECOVERY = 'crash recovery';

/** The record settles a request whose outcome was unknown (lost answers, crash recovery). */
export const isSettlement = (r: AuditRecord): boolean =>
  r.note !== undefined && SETTLED.test(r.note);

/**
 * What is still unknown about one request, from its records: its outcome (a crash between the
 * attempt and the outcome), or a lost answer never settled (a failure where the vendor may have
 * acted). Undefined: nothing is open.
 */
export function openQuestion(
  group: AuditRecord[],
): { attempt: AuditRecord; why: string } | undefined {
  const attempt = group.find((r) => r.phase === 'attempt');
  if (!attempt) return undefined;
  if (group.every((r) => r.phase === 'attempt')) return { attempt, why: CRASH_RECOVERY };
  if (group.some(isSettlement)) return undefined;
  const failed = group.find((r) => r.phase === 'failed');
  const mayHaveActed =
    failed &&
    ((failed.vendor?.status ?? 0) >= 500 || MAY_HAVE_ACTED.has(failed.vendor?.error ?? ''));
  return mayHaveActed && SECRET_ISSUING_EVENTS.has(attempt.event)
    ? { attempt, why: 'lost answer' }
    : undefined;
}
