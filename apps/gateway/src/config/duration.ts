/**
 * The form of the *_INTERVAL and NOTIFY_* durations: `off`, `0`, or a whole number with a unit
 * (`ms`, `s`, `m`, `h`, `d`; none: seconds).
 */
export const DURATION_FORM = /^(?:off|\d{1,9}(?:ms|s|m|h|d)?)$/i;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A DURATION_FORM value in milliseconds (`off`: 0); undefined: the fallback. Check the form first. */
export function durationMs(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const v = value.trim().toLowerCase();
  if (v === 'off') return 0;
  const [, digits, unit = 's'] = /^(\d+)([a-z]*)$/.exec(v) ?? [];
  return Number(digits) * (UNIT_MS[unit] ?? 1000);
}
