import { durationMs } from './duration';
import { ConfigError, loadGatewayConfig } from './env.validation';

const env = {
  QWIET_BASE_URL: 'https://app.shiftleft.io/api/v4',
  QWIET_ORG_TOKENS: JSON.stringify({ '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42': 'eyJ.token.value' }),
  OCTANE_BASE_URL: 'https://octane.example.com',
  OCTANE_CREDENTIALS: JSON.stringify({
    '1001': { client_id: 'keygate_x', client_secret: 'S3cret!value' },
  }),
  POLICY_FILE: 'config/policy.example.yaml',
  AUDIT_HMAC_KEY: 'k'.repeat(32),
  DATABASE_URL: 'postgres://keygate:pw@db.example.com:5432/keygate',
  AUTH_JWT_SECRET: 'x'.repeat(32),
};

describe('RECONCILE_INTERVAL', () => {
  it('defaults to five minutes; off and 0 schedule no pass; a bare number is seconds', () => {
    expect(loadGatewayConfig(env).reconcileIntervalMs).toBe(300_000);
    expect(loadGatewayConfig({ ...env, RECONCILE_INTERVAL: '' }).reconcileIntervalMs).toBe(300_000);
    for (const [value, ms] of [
      ['off', 0],
      ['OFF', 0],
      ['0', 0],
      ['90', 90_000],
      ['90s', 90_000],
      ['5m', 300_000],
      ['1h', 3_600_000],
      ['1500ms', 1500],
      ['1d', 86_400_000],
    ] as const) {
      expect([
        value,
        loadGatewayConfig({ ...env, RECONCILE_INTERVAL: value }).reconcileIntervalMs,
      ]).toEqual([value, ms]);
      expect(durationMs(value, 1)).toBe(ms);
    }
  });

  it('refuses anything else, naming the variable', () => {
    for (const value of ['5 minutes', '-1', '1w', '1.5m', 'on']) {
      let problems: string[] = [];
      try {
        loadGatewayConfig({ ...env, RECONCILE_INTERVAL: value });
      } catch (error) {
        problems = (error as ConfigError).problems;
      }
      expect([value, problems]).toEqual([
        value,
        [expect.stringContaining('RECONCILE_INTERVAL must be off, 0, or a duration')],
      ]);
    }
  });
});

describe('RECOVERY_AFTER_MS and RECOVERY_INTERVAL', () => {
  const recovery = (extra: Record<string, string>) =>
    loadGatewayConfig({ ...env, ...extra }).recovery;

  it('leave an open attempt to its instance for the request deadline and a minute; a pass every minute', () => {
    expect(recovery({})).toEqual({ afterMs: 85_000, atStartAfterMs: 85_000, intervalMs: 60_000 });
    expect(recovery({ UPSTREAM_DEADLINE_MS: '10000' }).afterMs).toBe(70_000);
    expect(recovery({ UPSTREAM_DEADLINE_MS: '1000', RECOVERY_AFTER_MS: '3000' })).toEqual({
      afterMs: 3000,
      atStartAfterMs: 3000,
      intervalMs: 60_000,
    });
    // One instance: what is open at its start is the last run's; its own requests after that.
    expect(recovery({ RECOVERY_AFTER_MS: '0', RECOVERY_INTERVAL: 'off' })).toEqual({
      afterMs: 85_000,
      atStartAfterMs: 0,
      intervalMs: 0,
    });
    expect(recovery({ RECOVERY_INTERVAL: '100ms' }).intervalMs).toBe(100);
    expect(recovery({ RECOVERY_INTERVAL: '24h' }).intervalMs).toBe(86_400_000);
  });

  it('refuses an age a request could still be at the vendor, and an interval out of bounds, naming each', () => {
    const problems = (extra: Record<string, string>) => {
      try {
        loadGatewayConfig({ ...env, ...extra });
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ RECOVERY_AFTER_MS: '-1', RECOVERY_INTERVAL: 'soon' })).toEqual([
      expect.stringContaining('RECOVERY_AFTER_MS'),
      expect.stringContaining('RECOVERY_INTERVAL must be off, 0, or a duration'),
    ]);
    // A request is at the vendor for up to a deadline, and its lost answer's last check another.
    expect(problems({ RECOVERY_AFTER_MS: '50000' })).toEqual([
      "RECOVERY_AFTER_MS must be 0 (one instance) or at least 2 x UPSTREAM_DEADLINE_MS + 1000 (51000): what is still at the vendor is its instance's",
    ]);
    expect(problems({ RECOVERY_AFTER_MS: '51000' })).toEqual([]);
    // setInterval would turn more than 2^31-1 ms into 1 ms: passes back to back.
    for (const value of ['30d', '99ms'])
      expect(problems({ RECOVERY_INTERVAL: value })).toEqual([
        'RECOVERY_INTERVAL must be off, 0, or from 100ms to 24h',
      ]);
  });
});
