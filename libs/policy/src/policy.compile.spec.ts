import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePolicy, PolicyError } from './policy.compile';

const problems = (text: string): string[] => {
  try {
    compilePolicy(text);
    return [];
  } catch (error) {
    if (error instanceof PolicyError) return error.problems;
    throw error;
  }
};

const globalCaps = `
version: 1
rules:
  qwiet:
    max_lifetime: { max_seconds: 3600 }
    allowed_roles: { role_ids: [66ad5168-41be-4b6c-9ac5-a30b02229c35] }
  quota:
    subject_per_hour: { max: 5 }
  octane:
    secret_strength: { min_length: 16, min_classes: 4, forbid_name: true }
`;

describe('policy file', () => {
  it('loads the example policy shipped in config/', () => {
    const policy = compilePolicy(
      readFileSync(join(__dirname, '../../../config/policy.example.yaml'), 'utf8'),
    );
    expect([...policy.teams.keys()]).toEqual(['payments', 'platform']);
  });

  it('has a revision that ignores formatting and changes with content', () => {
    const a = compilePolicy(
      'version: 1\nrules: { qwiet: { max_lifetime: { max_seconds: 60 } } }\n',
    );
    const b = compilePolicy(
      '# comment\nversion: 1\nrules:\n  qwiet:\n    max_lifetime:\n      max_seconds: 60\n',
    );
    const c = compilePolicy(
      'version: 1\nrules: { qwiet: { max_lifetime: { max_seconds: 61 } } }\n',
    );
    expect(a.revision).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.revision).toBe(a.revision);
    expect(c.revision).not.toBe(a.revision);
  });

  it.each([
    ['not YAML', 'version: [1', /YAML/],
    ['a duplicate key', 'version: 1\nversion: 1\n', /YAML/],
    ['no version', 'rules: {}', /\(document\): must have required property 'version'/],
    [
      'an unknown rule',
      'version: 1\nrules: { qwiet: { max_ttl: {} } }',
      /rules\.qwiet: must NOT have additional properties \(max_ttl\)/,
    ],
    [
      'a lifetime that is not an integer',
      'version: 1\nrules: { qwiet: { max_lifetime: { max_seconds: 1.5 } } }',
      /rules\.qwiet\.max_lifetime\.max_seconds: must be integer/,
    ],
    [
      'a bad mode',
      'version: 1\nrules: { qwiet: { lifetime_required: { mode: warn } } }',
      /rules\.qwiet\.lifetime_required\.mode/,
    ],
    [
      'a role id that is not a UUID',
      'version: 1\nrules: { qwiet: { allowed_roles: { role_ids: [ci] } } }',
      /rules\.qwiet\.allowed_roles\.role_ids\.0: must match pattern/,
    ],
    [
      'a bad regular expression',
      "version: 1\nrules: { octane: { name_pattern: { pattern: '([a-z' } } }",
      /rules\.octane\.name_pattern\.pattern: not a valid regular expression/,
    ],
  ])('refuses %s, naming the path', (_case, text, expected) => {
    expect(problems(text).join('\n')).toMatch(expected);
  });

  it.each([
    [
      'a nested quantifier',
      'qwiet: { label_pattern: { pattern: "(a+)+$" } }',
      'qwiet.label_pattern',
      /exponential/,
    ],
    [
      'an overlapping alternation',
      'octane: { name_pattern: { pattern: "^(a|b|ab)*c$" } }',
      'octane.name_pattern',
      /exponential/,
    ],
    [
      'a cubic pattern',
      "octane: { name_pattern: { pattern: '\\d+\\d+\\d*$' } }",
      'octane.name_pattern',
      /\d(th|rd) degree polynomial/,
    ],
  ])(
    'refuses a pattern that can backtrack catastrophically: %s',
    (_case, rule, path, complexity) => {
      for (const [text, at] of [
        [`version: 1\nrules: { ${rule} }\n`, `rules.${path}`],
        [
          `version: 1\nteams: { payments: { rules: { ${rule} } } }\n`,
          `teams.payments.rules.${path}`,
        ],
      ]) {
        const found = problems(text);
        expect(found).toEqual([
          expect.stringContaining(`${at}: pattern may backtrack catastrophically (`),
        ]);
        expect(found[0]).toMatch(complexity);
      }
    },
  );

  it('refuses a pattern the checker cannot decide (back-reference, look-around), saying why', () => {
    expect(
      problems("version: 1\nrules: { qwiet: { label_pattern: { pattern: '^(a+)\\1$' } } }\n"),
    ).toEqual([
      'rules.qwiet.label_pattern: pattern cannot be checked for catastrophic backtracking (it uses a back-reference); write it without back-references and look-arounds',
    ]);
  });

  it.each([
    '^ci-',
    '^[A-Za-z0-9][A-Za-z0-9 ._-]{2,63}$',
    '^ci-.*-.*$',
    '^(?:[a-z0-9]+[-_.])*[a-z0-9]+$',
  ])('accepts a pattern that matches in linear or quadratic time: %s', (pattern) => {
    expect(
      problems(`version: 1\nrules: { qwiet: { label_pattern: { pattern: '${pattern}' } } }\n`),
    ).toEqual([]);
  });

  it.each([
    [
      'a longer lifetime',
      'qwiet: { max_lifetime: { max_seconds: 7200 } }',
      /teams\.payments\.rules\.qwiet\.max_lifetime\.max_seconds: 7200 would loosen the global cap of 3600; a team may only tighten/,
    ],
    [
      'dry run of an enforced rule',
      'qwiet: { max_lifetime: { max_seconds: 60, mode: dry_run } }',
      /max_lifetime\.mode: dry_run would loosen/,
    ],
    [
      'a role outside the global list',
      'qwiet: { allowed_roles: { role_ids: [5b588f3a-7fe0-444d-afbb-c0d5ee04139b] } }',
      /allowed_roles\.role_ids: 5b588f3a-7fe0-444d-afbb-c0d5ee04139b not allowed by the global rule/,
    ],
    [
      'a larger quota',
      'quota: { subject_per_hour: { max: 50 } }',
      /quota\.subject_per_hour\.max: 50 would loosen the global cap of 5/,
    ],
    [
      'a shorter secret',
      'octane: { secret_strength: { min_length: 12, min_classes: 4 } }',
      /secret_strength\.min_length: 12 would loosen the global minimum of 16/,
    ],
    [
      'allowing the key name in secrets',
      'octane: { secret_strength: { min_length: 16, min_classes: 4, forbid_name: false } }',
      /forbid_name: false would loosen/,
    ],
  ])('refuses a team section that loosens the global rules: %s', (_case, teamRules, expected) => {
    const text = `${globalCaps}teams:\n  payments:\n    rules: { ${teamRules} }\n`;
    expect(problems(text).join('\n')).toMatch(expected);
  });

  it('lets a team tighten, inheriting the mode, and adds its pattern to the global one', () => {
    const policy = compilePolicy(
      `${globalCaps}    name_pattern: { pattern: '^[a-z]', mode: dry_run }\nteams:\n  payments:\n    rules: { qwiet: { max_lifetime: { max_seconds: 60, on_exceed: clamp } }, octane: { name_pattern: { pattern: 'x$' } } }\n`,
    );
    const rules = policy.teams.get('payments')!.rules;
    expect(rules.qwiet.max_lifetime).toEqual({ max_seconds: 60, on_exceed: 'clamp' });
    expect(rules.octane.name_patterns).toEqual([
      { pattern: '^[a-z]', mode: 'dry_run' },
      { pattern: 'x$', mode: 'enforce' },
    ]);
  });
});
