import { WEBHOOK_SECRET_PREFIX } from '@app/policy';
import { DURATION_FORM, durationMs } from '../config/duration';

/** Notifications' settings from the environment (README "Notifications"). */
export interface NotifyConfig {
  /** NOTIFY_SCAN_INTERVAL: an expiry scan this often on the lifecycle clock (0: none scheduled). */
  scanIntervalMs: number;
  /** NOTIFY_DELIVERY_INTERVAL: the outbox is looked at this often on the clock (0: none scheduled). */
  deliveryIntervalMs: number;
  /** NOTIFY_TIMEOUT_MS: one delivery attempt, connect to the end of the answer. */
  timeoutMs: number;
  /** NOTIFY_GIVE_UP_AFTER: a delivery still failing this long after its event is marked failed. */
  giveUpAfterMs: number;
  /** Retries: the first after about this long, doubling each time ... */
  backoffBaseMs: number;
  /** ... up to this (then +-25% jitter). */
  backoffCapMs: number;
  /** The webhook signing secrets: every WEBHOOK_SECRET_* variable (the policy names which). */
  secrets: Readonly<Record<string, string>>;
}

/** A secret shorter than this is refused at start-up (HMAC keys should not be guessable). */
const MIN_SECRET_LENGTH = 16;

/**
 * Reads NOTIFY_* and the WEBHOOK_SECRET_* variables; each problem is pushed (named, never a
 * secret's value).
 */
export function loadNotifyConfig(
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
): NotifyConfig {
  const duration = (name: string, fallback: number, allowOff: boolean): number => {
    const value = env[name];
    if (value === undefined) return fallback;
    if (!DURATION_FORM.test(value.trim())) {
      problems.push(
        `${name} must be ${allowOff ? 'off, 0, or ' : ''}a duration like 90s, 5m, 1h or 3d`,
      );
      return fallback;
    }
    const ms = durationMs(value, fallback);
    if (ms === 0 && !allowOff) problems.push(`${name} must be longer than 0`);
    return ms;
  };
  const timeout = env.NOTIFY_TIMEOUT_MS === undefined ? 10_000 : Number(env.NOTIFY_TIMEOUT_MS);
  if (!Number.isInteger(timeout) || timeout < 100 || timeout > 120_000)
    problems.push('NOTIFY_TIMEOUT_MS must be a whole number of milliseconds from 100 to 120000');
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(WEBHOOK_SECRET_PREFIX) || value === undefined) continue;
    if (value.length < MIN_SECRET_LENGTH)
      problems.push(`${name} must be at least ${MIN_SECRET_LENGTH} characters`);
    else secrets[name] = value;
  }
  return {
    scanIntervalMs: duration('NOTIFY_SCAN_INTERVAL', 60_000, true),
    deliveryIntervalMs: duration('NOTIFY_DELIVERY_INTERVAL', 5_000, true),
    timeoutMs: timeout,
    giveUpAfterMs: duration('NOTIFY_GIVE_UP_AFTER', 3 * 86_400_000, false),
    backoffBaseMs: 10_000,
    backoffCapMs: 10 * 60_000,
    secrets,
  };
}
