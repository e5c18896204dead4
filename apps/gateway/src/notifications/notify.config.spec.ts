import { durationMs } from '../config/duration';
import { loadNotifyConfig } from './notify.config';

const load = (env: Record<string, string>) => {
  const problems: string[] = [];
  return { config: loadNotifyConfig(env, problems), problems };
};

describe('notifications configuration', () => {
  it('has defaults: a scan a minute, the outbox every 5 s, 10 s attempts, given up after 3 days', () => {
    const { config, problems } = load({});
    expect(problems).toEqual([]);
    expect(config).toMatchObject({
      scanIntervalMs: 60_000,
      deliveryIntervalMs: 5_000,
      timeoutMs: 10_000,
      giveUpAfterMs: 3 * 86_400_000,
      secrets: {},
    });
  });

  it('reads durations with a unit (none: seconds) and off', () => {
    expect(durationMs('90', 0)).toBe(90_000);
    expect(durationMs('250ms', 0)).toBe(250);
    expect(durationMs('5m', 0)).toBe(300_000);
    expect(durationMs('2d', 0)).toBe(172_800_000);
    expect(durationMs('off', 1)).toBe(0);
    expect(load({ NOTIFY_SCAN_INTERVAL: 'off' }).config.scanIntervalMs).toBe(0);
  });

  it('keeps only WEBHOOK_SECRET_* variables as secrets, and names a short one without its value', () => {
    const { config, problems } = load({
      WEBHOOK_SECRET_A: 'a-long-enough-secret-value',
      WEBHOOK_SECRET_B: 'short-value',
      AUTH_JWT_SECRET: 'not-a-webhook-secret-0123456789abcdef',
    });
    expect(config.secrets).toEqual({ WEBHOOK_SECRET_A: 'a-long-enough-secret-value' });
    expect(problems).toEqual(['WEBHOOK_SECRET_B must be at least 16 characters']);
  });

  it.each([
    [{ NOTIFY_SCAN_INTERVAL: 'soon' }, /NOTIFY_SCAN_INTERVAL must be off, 0, or a duration/],
    [{ NOTIFY_GIVE_UP_AFTER: 'off' }, /NOTIFY_GIVE_UP_AFTER must be longer than 0/],
    [{ NOTIFY_GIVE_UP_AFTER: '0' }, /NOTIFY_GIVE_UP_AFTER must be longer than 0/],
    [{ NOTIFY_TIMEOUT_MS: '50' }, /NOTIFY_TIMEOUT_MS must be a whole number/],
  ])('refuses %j', (env, expected) => {
    expect(load(env).problems.join('\n')).toMatch(expected);
  });
});
