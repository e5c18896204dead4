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
  it('leave an open attempt to its instance for the request deadline and a minute; a pass every minute', () => {
    expect(loadGatewayConfig(env).recovery).toEqual({ afterMs: 85_000, intervalMs: 60_000 });
    expect(loadGatewayConfig({ ...env, UPSTREAM_DEADLINE_MS: '10000' }).recovery.afterMs).toBe(
      70_000,
    );
    expect(
      loadGatewayConfig({ ...env, RECOVERY_AFTER_MS: '0', RECOVERY_INTERVAL: 'off' }).recovery,
    ).toEqual({ afterMs: 0, intervalMs: 0 });
  });

  it('refuses a negative age or an interval not in the form, naming the variable', () => {
    let problems: string[] = [];
    try {
      loadGatewayConfig({ ...env, RECOVERY_AFTER_MS: '-1', RECOVERY_INTERVAL: 'soon' });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringContaining('RECOVERY_AFTER_MS'),
      expect.stringContaining('RECOVERY_INTERVAL must be off, 0, or a duration'),
    ]);
  });
});
