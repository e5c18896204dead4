import fc from 'fast-check';
import { compilePolicy } from './policy.compile';
import { evaluate, owningTeam, QWIET_CI_ROLE_ID } from './evaluate';
import type { PolicyCaller, PolicyRequest } from './policy.types';

const ORG = '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42';
const OTHER_ORG = '7d3e9a14-5b2c-4f8e-a1d6-3c9b8e2f4a51';
const JIRA = '5b588f3a-7fe0-444d-afbb-c0d5ee04139b';
const ADMIN_ROLE_ID = '6fc50b34-6705-11eb-b610-435a3f7b9ad3';
const NOW = new Date('2026-11-22T12:00:00Z');
const alice: PolicyCaller = { subject: 'alice', team: 'payments', roles: [] };

const base = `
version: 1
rules:
  qwiet:
    max_lifetime: { max_seconds: 3600 }
    lifetime_required: {}
    allowed_roles: { role_ids: [${QWIET_CI_ROLE_ID}, ${JIRA}] }
    denied_roles: { role_ids: [${ADMIN_ROLE_ID}] }
    allowed_token_types: { token_types: [access] }
    label_pattern: { pattern: '^ci-' }
  octane:
    max_expiration: { max_days: 30 }
    expiration_required: {}
    allowed_workspace_roles: { workspace_role_ids: ['1027', '1028'] }
    roles_in_all_workspaces: { role_ids: ['1007'] }
    secret_strength: { min_length: 16, min_classes: 4, forbid_name: true, forbid_common: true }
    name_pattern: { pattern: '^[a-z]+$' }
  revocation:
    other_team: {}
teams:
  payments:
    qwiet_orgs: [${ORG}]
    octane_shared_spaces: ['1001']
`;
const policy = compilePolicy(base);
const issue = (
  token: Partial<{ label: string; role_id: string; token_type: string; valid_for_seconds: number }>,
  orgId = ORG,
): PolicyRequest => ({
  action: 'qwiet.token.issue',
  orgId,
  token: {
    label: 'ci-build',
    role_id: QWIET_CI_ROLE_ID,
    token_type: 'access',
    valid_for_seconds: 600,
    ...token,
  },
});
const days = (n: number) => new Date(NOW.getTime() + n * 86400_000).toISOString();
const create = (
  key: Partial<{
    name: string;
    client_secret: string;
    expiration: string;
    workspace_role_ids: string[];
    roles_in_all_workspaces: string[];
  }>,
): PolicyRequest => ({
  action: 'octane.api_access.create',
  sharedSpaceId: '1001',
  key: {
    name: 'build',
    client_secret: 'Xk#9vQ!2mWp$7rTz',
    expiration: days(10),
    workspace_role_ids: ['1027'],
    roles_in_all_workspaces: [],
    ...key,
  },
});
const rules = (request: PolicyRequest, p = policy, caller = alice) => {
  const d = evaluate(p, caller, request, NOW);
  return {
    allowed: d.allowed,
    violations: d.violations.map((v) => v.rule),
    warnings: d.warnings.map((w) => w.rule),
    d,
  };
};

describe('policy engine: Qwiet issuance', () => {
  it('allows a request inside every rule, and lists what it evaluated', () => {
    const { allowed, d } = rules(issue({}));
    expect(allowed).toBe(true);
    expect(d.evaluated).toEqual([
      'scope.qwiet_org',
      'qwiet.allowed_token_types',
      'qwiet.allowed_roles',
      'qwiet.denied_roles',
      'qwiet.label_pattern',
      'qwiet.max_lifetime',
      'qwiet.lifetime_required',
    ]);
    expect(d.revision).toBe(policy.revision);
  });

  it.each([
    ['at the limit', 3600, true],
    ['limit + 1', 3601, false],
    ['one second', 1, true],
    ['huge', Number.MAX_SAFE_INTEGER, false],
  ])('max_lifetime: %s', (_case, seconds, ok) => {
    const r = rules(issue({ valid_for_seconds: seconds }));
    expect(r.allowed).toBe(ok);
    if (!ok)
      expect(r.d.violations).toEqual([
        { rule: 'qwiet.max_lifetime', message: expect.any(String), limit: 3600, actual: seconds },
      ]);
  });

  it('lifetime_required: a missing lifetime is refused', () => {
    const { violations } = rules(issue({ valid_for_seconds: undefined }));
    expect(violations).toEqual(['qwiet.lifetime_required']);
  });

  it.each([
    [
      'a role outside the allow list',
      { role_id: 'e7ca42af-8dd5-4928-8eb9-28d5e41b5564' },
      ['qwiet.allowed_roles'],
    ],
    ['a denied role', { role_id: ADMIN_ROLE_ID }, ['qwiet.allowed_roles', 'qwiet.denied_roles']],
    ['an upper-case allowed role id', { role_id: QWIET_CI_ROLE_ID.toUpperCase() }, []],
    ['a token type not allowed', { token_type: 'integration' }, ['qwiet.allowed_token_types']],
    [
      'no token type (counts as integration)',
      { token_type: undefined },
      ['qwiet.allowed_token_types'],
    ],
    ['a label off the pattern', { label: 'build' }, ['qwiet.label_pattern']],
  ])('%s', (_case, token, expected) => {
    expect(rules(issue(token)).violations).toEqual(expected);
  });

  it('scope: another org is refused, unless the caller is keygate:admin', () => {
    expect(rules(issue({}, OTHER_ORG)).violations).toEqual(['scope.qwiet_org']);
    expect(
      rules(issue({}, OTHER_ORG), policy, { ...alice, roles: ['keygate:admin'] }).allowed,
    ).toBe(true);
    expect(rules(issue({}), policy, { ...alice, team: 'nobody' }).violations).toEqual([
      'scope.qwiet_org',
    ]);
  });

  it('service_account: only CI tokens of type access on the listed orgs', () => {
    const p = compilePolicy(
      `${base.replace('rules:\n  qwiet:', `rules:\n  qwiet:\n    service_account: { org_ids: [${ORG}] }`)}`.replace(
        'token_types: [access]',
        'token_types: [access, integration]',
      ),
    );
    expect(rules(issue({}), p).allowed).toBe(true);
    expect(rules(issue({ role_id: JIRA }), p).violations).toEqual(['qwiet.service_account']);
    expect(rules(issue({ token_type: 'integration' }), p).violations).toEqual([
      'qwiet.service_account',
    ]);
  });

  it('dry_run turns a violation into a warning', () => {
    const p = compilePolicy(
      base.replace('max_seconds: 3600 }', 'max_seconds: 3600, mode: dry_run }'),
    );
    const r = rules(issue({ valid_for_seconds: 7200 }), p);
    expect(r).toMatchObject({ allowed: true, violations: [], warnings: ['qwiet.max_lifetime'] });
    expect(r.d.effective.valid_for_seconds).toBeUndefined();
  });

  it('clamp sends the cap instead, with a warning; a missing lifetime gets the cap too', () => {
    const p = compilePolicy(
      base.replace('max_seconds: 3600 }', 'max_seconds: 3600, on_exceed: clamp }'),
    );
    const over = rules(issue({ valid_for_seconds: 7200 }), p);
    expect(over).toMatchObject({ allowed: true, warnings: ['qwiet.max_lifetime'] });
    expect(over.d.effective.valid_for_seconds).toBe(3600);
    const missing = rules(issue({ valid_for_seconds: undefined }), p);
    expect(missing).toMatchObject({ allowed: true, warnings: ['qwiet.lifetime_required'] });
    expect(missing.d.effective.valid_for_seconds).toBe(3600);
    expect(rules(issue({ valid_for_seconds: 100 }), p).d.effective).toEqual({});
  });
});

describe('policy engine: Octane keys', () => {
  it('allows a key inside every rule', () => {
    expect(rules(create({})).allowed).toBe(true);
  });

  it.each([
    ['exactly 30 days ahead', days(30), true],
    ['30 days and a second', new Date(NOW.getTime() + 30 * 86400_000 + 1000).toISOString(), false],
    ['in the past', days(-1), false],
    ['now', NOW.toISOString(), false],
  ])('max_expiration: %s', (_case, expiration, ok) => {
    expect(rules(create({ expiration })).allowed).toBe(ok);
  });

  it.each([
    ['no expiration', { expiration: undefined }, ['octane.expiration_required']],
    [
      'a workspace role outside the list',
      { workspace_role_ids: ['1027', '1037'] },
      ['octane.allowed_workspace_roles'],
    ],
    [
      'a role in all workspaces outside the list',
      { roles_in_all_workspaces: ['1015'] },
      ['octane.roles_in_all_workspaces'],
    ],
    ['a name off the pattern', { name: 'Build_1' }, ['octane.name_pattern']],
    ['a 15-character secret', { client_secret: 'Xk#9vQ!2mWp$7rT' }, ['octane.secret_strength']],
    [
      'a 31-character secret',
      { client_secret: 'Xk#9vQ!2mWp$7rTz'.padEnd(31, 'a') },
      ['octane.secret_strength'],
    ],
    ['three classes only', { client_secret: 'xk#9vq!2mwp$7rtzz' }, ['octane.secret_strength']],
    [
      'the name inside the secret',
      { client_secret: 'Xk#9BUILDvQ!2mWp$7' },
      ['octane.secret_strength'],
    ],
    ['a common password', { client_secret: 'Password' }, ['octane.secret_strength']],
  ])('%s', (_case, key, expected) => {
    expect(rules(create(key)).violations).toEqual(expected);
  });

  it('never quotes the secret in a finding', () => {
    const secret = 'Weak-but-mine-123';
    const { d } = rules(create({ client_secret: secret, name: 'mine' }));
    expect(JSON.stringify(d)).not.toContain(secret);
    expect(d.violations[0]).toMatchObject({
      rule: 'octane.secret_strength',
      actual: { length: secret.length, classes: 4 },
    });
  });

  it('no secret: Keygate will generate one', () => {
    const { allowed, d } = rules(create({ client_secret: undefined }));
    expect(allowed).toBe(true);
    expect(d.effective.generate_secret).toBe(true);
  });

  it('clamps an over-long expiration, and fills a missing one, when so configured', () => {
    const p = compilePolicy(base.replace('max_days: 30 }', 'max_days: 30, on_exceed: clamp }'));
    expect(rules(create({ expiration: days(400) }), p).d.effective.expiration).toBe(
      days(30).replace('.000Z', 'Z'),
    );
    expect(rules(create({ expiration: undefined }), p)).toMatchObject({
      allowed: true,
      warnings: ['octane.expiration_required'],
    });
    expect(rules(create({ expiration: days(-1) }), p).violations).toEqual([
      'octane.max_expiration',
    ]);
  });
});

describe('policy engine: revocation', () => {
  const revoke = (ownerTeam?: string): PolicyRequest => ({
    action: 'qwiet.token.revoke',
    orgId: ORG,
    tokenId: 'x',
    ownerTeam,
  });
  it.each([
    ['own team', 'payments', [], true],
    ['another team', 'platform', [], false],
    ['another team, as admin', 'platform', ['keygate:admin'], true],
    ['an unknown owner', undefined, [], false],
    ['an unknown owner, as admin', undefined, ['keygate:admin'], true],
  ])('%s', (_case, owner, roles, ok) => {
    expect(rules(revoke(owner), policy, { ...alice, roles }).allowed).toBe(ok);
  });

  it('applies to regeneration too, judged like a create (the secret, the expiration)', () => {
    const r = rules({
      action: 'octane.api_access.regenerate',
      sharedSpaceId: '1001',
      id: '1',
      ownerTeam: 'platform',
      key: {
        name: 'k',
        client_secret: 'short',
        workspace_role_ids: [],
        roles_in_all_workspaces: [],
      },
      reactivates: false,
    });
    expect(r.violations).toEqual([
      'revocation.other_team',
      'octane.expiration_required',
      'octane.secret_strength',
    ]);
  });
});

describe('policy engine: the owning team', () => {
  const shared = compilePolicy(
    [
      'version: 1',
      'teams:',
      `  payments: { qwiet_orgs: [${ORG}] }`,
      `  platform: { qwiet_orgs: [${OTHER_ORG}] }`,
      `  ops: { qwiet_orgs: [${OTHER_ORG}] }`,
      `  solo: { qwiet_orgs: ['${JIRA}'] }`,
    ].join('\n'),
  );
  const admin: PolicyCaller = { ...alice, roles: ['keygate:admin'] };
  const token = { label: 'x', role_id: QWIET_CI_ROLE_ID };
  const issueIn = (orgId: string, forTeam?: string): PolicyRequest => ({
    action: 'qwiet.token.issue',
    orgId,
    token,
    forTeam,
  });

  it.each<[string, PolicyCaller, PolicyRequest, string]>([
    ['a member, always its own team', alice, issueIn(ORG, 'ops'), 'payments'],
    ['an admin in its own team’s org', admin, issueIn(ORG), 'payments'],
    ['an admin where one team lists the org', admin, issueIn(JIRA), 'solo'],
    ['an admin naming one of the listing teams', admin, issueIn(OTHER_ORG, 'ops'), 'ops'],
    [
      'an admin reading a shared org',
      admin,
      { action: 'qwiet.read', orgId: OTHER_ORG },
      'payments',
    ],
    [
      'an admin revoking in a shared org',
      admin,
      { action: 'qwiet.token.revoke', orgId: OTHER_ORG, tokenId: 't', ownerTeam: 'ops' },
      'payments',
    ],
  ])('%s', (_case, caller, request, team) => {
    expect(owningTeam(shared, caller, request)).toBe(team);
    expect(evaluate(shared, caller, request, NOW)).toMatchObject({ allowed: true, team });
  });

  it('refuses an admin issuing in a shared org without naming a team that lists it', () => {
    for (const forTeam of [undefined, 'payments']) {
      const d = evaluate(shared, admin, issueIn(OTHER_ORG, forTeam), NOW);
      expect(d.violations.map((v) => v.rule)).toEqual(['scope.owner_team']);
    }
  });
});

describe('policy engine: properties', () => {
  const teamSection = fc.record({
    max_seconds: fc.integer({ min: 1, max: 2_147_483_647 }),
    mode: fc.constantFrom('enforce', 'dry_run', undefined),
    on_exceed: fc.constantFrom('deny', 'clamp', undefined),
  });

  it('no request over an enforced global cap is ever sent, whatever the team section says', () => {
    fc.assert(
      fc.property(teamSection, fc.integer({ min: 1, max: 2_147_483_647 }), (team, lifetime) => {
        const rule = Object.entries(team)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ');
        const text = `${base}    rules:\n      qwiet:\n        max_lifetime: { ${rule} }\n`;
        let p;
        try {
          p = compilePolicy(text);
        } catch {
          return true; // a loosening team section is refused at load: nothing to evaluate
        }
        const d = evaluate(p, alice, issue({ valid_for_seconds: lifetime }), NOW);
        const sent = d.effective.valid_for_seconds ?? lifetime;
        return !d.allowed || sent <= 3600;
      }),
      { numRuns: 500 },
    );
  });

  it('every expiration that is allowed lies within the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), (offsetDays) => {
        const d = evaluate(policy, alice, create({ expiration: days(offsetDays) }), NOW);
        const at = Date.parse(d.effective.expiration ?? days(offsetDays));
        return !d.allowed || (at > NOW.getTime() && at <= NOW.getTime() + 30 * 86400_000);
      }),
    );
  });
});

describe('policy engine: issuance quotas', () => {
  const quotaPolicy = compilePolicy(
    base.replace(
      '  revocation:\n',
      '  quota:\n    team_per_hour: { max: 10 }\n    subject_per_hour: { max: 3 }\n  revocation:\n',
    ),
  );
  it.each([
    ['under both', { teamLastHour: 0, subjectLastHour: 0 }, []],
    ['one below the subject quota', { teamLastHour: 5, subjectLastHour: 2 }, []],
    ['at the subject quota', { teamLastHour: 5, subjectLastHour: 3 }, ['quota.subject_per_hour']],
    ['at the team quota', { teamLastHour: 10, subjectLastHour: 0 }, ['quota.team_per_hour']],
    [
      'over both',
      { teamLastHour: 99, subjectLastHour: 99 },
      ['quota.team_per_hour', 'quota.subject_per_hour'],
    ],
  ])('%s', (_case, usage, expected) => {
    const request = { ...issue({}), usage } as PolicyRequest;
    expect(rules(request, quotaPolicy).violations).toEqual(expected);
  });

  it('is not evaluated without usage figures (explain, revocations)', () => {
    expect(rules(issue({}), quotaPolicy).d.evaluated).not.toContain('quota.subject_per_hour');
  });
});
