/** RECONCILE_INTERVAL's form: `off`, `0`, or a whole number with a unit (`ms`, `s`, `m`, `h`; none: seconds). */
export const RECONCILE_INTERVAL_FORM = /^(?:off|\d{1,9}(?:ms|s|m|h)?)$/i;

/** The default: a pass every five minutes. */
export const DEFAULT_RECONCILE_INTERVAL_MS = 5 * 60_000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * RECONCILE_INTERVAL in milliseconds (0: no scheduled pass; POST /v1/reconcile still runs one).
 * Undefined (unset) is the default; the value must match RECONCILE_INTERVAL_FORM (checked first).
 */
export function reconcileIntervalMs(value: string | undefined): number {
  if (value === undefined) return DEFAULT_RECONCILE_INTERVAL_MS;
  const v = value.trim().toLowerCase();
  if (v === 'off') return 0;
  const [, digits, unit = 's'] = /^(\d+)([a-z]*)$/.exec(v) ?? [];
  return Number(digits) * (UNIT_MS[unit] ?? 1000);
}
