import { durationMs } from './duration';
import { ConfigError, loadGatewayConfig } from './env.validation';

const ORG = '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42';
const valid = {
  QWIET_BASE_URL: 'https://app.shiftleft.io/api/v4',
  QWIET_ORG_TOKENS: JSON.stringify({ [ORG]: 'eyJ.token.value' }),
  OCTANE_BASE_URL: 'https://octane.example.com',
  OCTANE_CREDENTIALS: JSON.stringify({
    '1001': { client_id: 'keygate_x', client_secret: 'S3cret!value' },
  }),
  POLICY_FILE: 'config/policy.example.yaml',
  AUDIT_HMAC_KEY: 'k'.repeat(32),
  DATABASE_URL: 'postgres://keygate:pw@db.example.com:5432/keygate',
  AUTH_JWT_SECRET: 'x'.repeat(32),
};

const problems = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadGatewayConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
};

describe('loadGatewayConfig', () => {
  it('reads a complete environment with defaults', () => {
    const config = loadGatewayConfig(valid);
    expect(config.http).toEqual({ host: '127.0.0.1', port: 3000, bodyLimitBytes: 64 * 1024 });
    expect(config.transport).toEqual({
      timeoutMs: 10_000,
      maxSockets: 64,
      getRetries: 2,
      deadlineMs: 25_000,
      circuit: {
        errorThresholdPercentage: 50,
        volumeThreshold: 10,
        rollingWindowMs: 10_000,
        resetTimeoutMs: 15_000,
      },
    });
    expect(config.rateLimitPerMinute).toBe(600);
    expect(config.auth).toMatchObject({ mode: 'hs256', teamClaim: 'team', rolesClaim: 'roles' });
    expect(config.octane.sharedSpaces['1001']).toEqual({
      clientId: 'keygate_x',
      clientSecret: 'S3cret!value',
    });
    expect(config.policyFile).toBe('config/policy.example.yaml');
    expect(config.audit).toEqual({ hmacKey: 'k'.repeat(32), stdout: false });
    expect(config.database).toEqual({ url: 'postgres://keygate:pw@db.example.com:5432/keygate' });
  });

  it('takes an org token with the id it has at Qwiet (Keygate protects it)', () => {
    const id = '8f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f';
    const config = loadGatewayConfig({
      ...valid,
      QWIET_ORG_TOKENS: JSON.stringify({ [ORG]: { token: 'eyJ.token.value', token_id: id } }),
    });
    expect(config.qwiet.orgTokens).toEqual({ [ORG]: 'eyJ.token.value' });
    expect(config.qwietOwnTokenIds).toEqual({ [ORG]: id });
    expect(
      problems({
        ...valid,
        QWIET_ORG_TOKENS: JSON.stringify({ [ORG]: { token: 't', token_id: 'nope' } }),
      }),
    ).toEqual([`QWIET_ORG_TOKENS: the token_id of org ${ORG} is not a token UUID`]);
  });

  it('names every missing variable at once', () => {
    const found = problems({});
    for (const name of [
      'QWIET_BASE_URL',
      'QWIET_ORG_TOKENS',
      'OCTANE_BASE_URL',
      'OCTANE_CREDENTIALS',
      'POLICY_FILE',
      'AUDIT_HMAC_KEY',
      'DATABASE_URL',
      'AUTH_JWT_SECRET',
    ]) {
      expect(found.join('\n')).toContain(name);
    }
  });

  it('says of each missing required variable that it is not set, and what it holds', () => {
    const found = problems({ ...valid, QWIET_BASE_URL: '', OCTANE_CREDENTIALS: undefined });
    expect(found).toEqual([
      'QWIET_BASE_URL is not set (the Qwiet API v4 base URL, e.g. https://app.shiftleft.io/api/v4)',
      expect.stringMatching(/^OCTANE_CREDENTIALS is not set \(JSON /),
    ]);
  });

  it('needs DATABASE_URL (the one store), named with what it holds and never echoed', () => {
    expect(problems({ ...valid, DATABASE_URL: undefined })).toEqual([
      expect.stringMatching(/^DATABASE_URL is not set \(the PostgreSQL store/),
    ]);
    const found = problems({ ...valid, DATABASE_URL: 'mysql://u:hunter2-secret@db/k' });
    expect(found.join('\n')).toContain('DATABASE_URL');
    expect(found.join('\n')).not.toContain('hunter2-secret');
  });

  it('no longer reads AUDIT_DIR, AUDIT_SEGMENT_BYTES or AUDIT_FSYNC (the ledger is in PostgreSQL)', () => {
    const config = loadGatewayConfig({
      ...valid,
      AUDIT_DIR: '/no/such/dir',
      AUDIT_SEGMENT_BYTES: 'not a number',
      AUDIT_FSYNC: 'maybe',
    });
    expect(config.audit).toEqual({ hmacKey: 'k'.repeat(32), stdout: false });
  });

  it.each([
    ['PORT', { PORT: '70000' }, 'PORT'],
    ['a URL without protocol', { QWIET_BASE_URL: 'app.shiftleft.io' }, 'QWIET_BASE_URL'],
    [
      'tokens that are not JSON',
      { QWIET_ORG_TOKENS: 'org=token' },
      'QWIET_ORG_TOKENS is not valid JSON',
    ],
    ['an org key that is not a UUID', { QWIET_ORG_TOKENS: '{"acme":"t"}' }, 'not an org UUID'],
    [
      'a shared space id in another spelling (a leading zero)',
      { OCTANE_CREDENTIALS: '{"01001":{"client_id":"k","client_secret":"s"}}' },
      'OCTANE_CREDENTIALS: key "01001" is not a shared space id',
    ],
    [
      'credentials without a secret',
      { OCTANE_CREDENTIALS: '{"1001":{"client_id":"k"}}' },
      'needs a client_id and a client_secret',
    ],
    ['a short JWT secret', { AUTH_JWT_SECRET: 'short' }, 'at least 32 characters'],
    ['both auth modes', { AUTH_JWKS_URL: 'https://id.example.com/jwks' }, 'exactly one of'],
    [
      'JWKS without issuer',
      { AUTH_JWT_SECRET: '', AUTH_JWKS_URL: 'https://id.example.com/jwks' },
      'AUTH_ISSUER',
    ],
  ])('refuses %s', (_case, override, message) => {
    expect(problems({ ...valid, ...override }).join('\n')).toContain(message);
  });

  it('never puts a credential value in its messages', () => {
    const secret = 'S3cret!value-that-must-not-leak';
    const found = problems({
      ...valid,
      OCTANE_CREDENTIALS: JSON.stringify({ abc: { client_id: 'k', client_secret: secret } }),
    });
    expect(found.length).toBeGreaterThan(0);
    expect(found.join('\n')).not.toContain(secret);
  });
});

describe('RECONCILE_INTERVAL', () => {
  it('defaults to five minutes; off and 0 schedule no pass; a bare number is seconds', () => {
    expect(loadGatewayConfig(valid).reconcileIntervalMs).toBe(300_000);
    expect(loadGatewayConfig({ ...valid, RECONCILE_INTERVAL: '' }).reconcileIntervalMs).toBe(
      300_000,
    );
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
        loadGatewayConfig({ ...valid, RECONCILE_INTERVAL: value }).reconcileIntervalMs,
      ]).toEqual([value, ms]);
      expect(durationMs(value, 1)).toBe(ms);
    }
  });

  it('refuses anything else, naming the variable', () => {
    for (const value of ['5 minutes', '-1', '1w', '1.5m', 'on']) {
      expect([value, problems({ ...valid, RECONCILE_INTERVAL: value })]).toEqual([
        value,
        [expect.stringContaining('RECONCILE_INTERVAL must be off, 0, or a duration')],
      ]);
    }
  });
});

describe('RECOVERY_AFTER_MS and RECOVERY_INTERVAL', () => {
  const recovery = (extra: Record<string, string>) =>
    loadGatewayConfig({ ...valid, ...extra }).recovery;

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
    expect(problems({ ...valid, RECOVERY_AFTER_MS: '-1', RECOVERY_INTERVAL: 'soon' })).toEqual([
      expect.stringContaining('RECOVERY_AFTER_MS'),
      expect.stringContaining('RECOVERY_INTERVAL must be off, 0, or a duration'),
    ]);
    // A request is at the vendor for up to a deadline, and its lost answer's last check another.
    expect(problems({ ...valid, RECOVERY_AFTER_MS: '50000' })).toEqual([
      "RECOVERY_AFTER_MS must be 0 (one instance) or at least 2 x UPSTREAM_DEADLINE_MS + 1000 (51000): what is still at the vendor is its instance's",
    ]);
    expect(problems({ ...valid, RECOVERY_AFTER_MS: '51000' })).toEqual([]);
    // setInterval would turn more than 2^31-1 ms into 1 ms: passes back to back.
    for (const value of ['30d', '99ms'])
      expect(problems({ ...valid, RECOVERY_INTERVAL: value })).toEqual([
        'RECOVERY_INTERVAL must be off, 0, or from 100ms to 24h',
      ]);
  });
});
