import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePolicy, PolicyError } from './policy.compile';
import { thresholdSeconds } from './notify';

const problems = (text: string): string[] => {
  try {
    compilePolicy(text);
    return [];
  } catch (error) {
    if (error instanceof PolicyError) return error.problems;
    throw error;
  }
};

const notify = (block: string) => `version: 1\nnotify:\n${block}`;

describe('policy notify block', () => {
  it('reads thresholds (largest first) and webhook targets', () => {
    const policy = compilePolicy(
      notify(
        [
          '  expiry_thresholds: [1d, 7d, 12h, 30m]',
          '  webhooks:',
          '    - { name: security, url: "https://hooks.example.com/keygate", secret_env: WEBHOOK_SECRET_SECURITY }',
          '    - name: pager',
          '      url: http://127.0.0.1:9000/in',
          '      secret_env: WEBHOOK_SECRET_PAGER',
          '      events: [credential.revocation_unverified, leak.revoked]',
          '',
        ].join('\n'),
      ),
    );
    expect(policy.notify.thresholds).toEqual([
      { label: '7d', seconds: 604_800 },
      { label: '1d', seconds: 86_400 },
      { label: '12h', seconds: 43_200 },
      { label: '30m', seconds: 1_800 },
    ]);
    expect(policy.notify.webhooks.map((w) => w.name)).toEqual(['security', 'pager']);
    expect(policy.notify.webhooks[1].events).toEqual([
      'credential.revocation_unverified',
      'leak.revoked',
    ]);
  });

  it('has no thresholds and no targets when the policy sets none', () => {
    expect(compilePolicy('version: 1\n').notify).toEqual({ thresholds: [], webhooks: [] });
  });

  it('loads the example policy, whose notify block is documented', () => {
    const policy = compilePolicy(
      readFileSync(join(__dirname, '../../../config/policy.example.yaml'), 'utf8'),
    );
    expect(policy.notify.thresholds.map((t) => t.label)).toEqual(['7d', '1d']);
    expect(policy.notify.webhooks.length).toBeGreaterThan(0);
  });

  it.each([
    [
      'a threshold without a unit',
      '  expiry_thresholds: ["7"]\n',
      /notify\.expiry_thresholds\.0: must match pattern/,
    ],
    [
      'a threshold in seconds',
      '  expiry_thresholds: [90s]\n',
      /expiry_thresholds\.0: must match pattern/,
    ],
    [
      'two spellings of one threshold',
      '  expiry_thresholds: [1d, 24h]\n',
      /24h is the same threshold as 1d/,
    ],
    [
      'an ftp URL',
      '  webhooks: [{ name: a, url: "ftp://x.example/", secret_env: WEBHOOK_SECRET_A }]\n',
      /notify\.webhooks\.0\.url: must match pattern/,
    ],
    [
      'a URL with a password',
      '  webhooks: [{ name: a, url: "https://u:p@x.example/", secret_env: WEBHOOK_SECRET_A }]\n',
      /webhooks\.0\.url: must not carry a user or password/,
    ],
    [
      'a URL that does not parse',
      '  webhooks: [{ name: a, url: "http://[::1", secret_env: WEBHOOK_SECRET_A }]\n',
      /webhooks\.0\.url: not a valid URL/,
    ],
    [
      'a secret in a variable outside WEBHOOK_SECRET_*',
      '  webhooks: [{ name: a, url: "https://x.example/", secret_env: AUTH_JWT_SECRET }]\n',
      /webhooks\.0\.secret_env: must match pattern/,
    ],
    [
      'a name listed twice',
      '  webhooks:\n    - { name: a, url: "https://x.example/", secret_env: WEBHOOK_SECRET_A }\n    - { name: a, url: "https://y.example/", secret_env: WEBHOOK_SECRET_B }\n',
      /webhooks\.1\.name: a is listed twice/,
    ],
    [
      'an event that is not a notification',
      '  webhooks: [{ name: a, url: "https://x.example/", secret_env: WEBHOOK_SECRET_A, events: [qwiet.token.issue] }]\n',
      /webhooks\.0\.events\.0: must be equal to one of the allowed values/,
    ],
    [
      'a target without a secret',
      '  webhooks: [{ name: a, url: "https://x.example/" }]\n',
      /webhooks\.0: must have required property 'secret_env'/,
    ],
  ])('refuses %s, naming the path', (_case, block, expected) => {
    expect(problems(notify(block)).join('\n')).toMatch(expected);
  });

  it('converts durations to seconds', () => {
    expect(thresholdSeconds('45m')).toBe(2_700);
    expect(thresholdSeconds('2h')).toBe(7_200);
    expect(thresholdSeconds('0d')).toBeUndefined();
    expect(thresholdSeconds('1w')).toBeUndefined();
  });
});
