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
