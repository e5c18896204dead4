import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { policyCheckCommand } from './policy-check.command';

const write = (text: string) => {
  const file = join(mkdtempSync(join(tmpdir(), 'keygate-check-')), 'policy.yaml');
  writeFileSync(file, text);
  return file;
};

describe('keygate policy check', () => {
  it('prints the revision and the effective rules per team of the example policy', () => {
    const { output, status } = policyCheckCommand([
      join(__dirname, '../../../config/policy.example.yaml'),
    ]);
    expect(status).toBe(0);
    const report = parse(output);
    expect(report.revision).toMatch(/^sha256:/);
    expect(report.teams.payments.rules.qwiet.max_lifetime).toEqual({
      max_seconds: 86400,
      on_exceed: 'clamp',
    });
    expect(report.teams.platform.rules.octane.max_expiration).toEqual({
      max_days: 30,
      on_exceed: 'deny',
    });
    expect(report.other_teams.qwiet_orgs).toEqual([]);
  });

  it('names every problem of an invalid file and exits 1', () => {
    const file = write(
      'version: 1\nrules: { qwiet: { max_lifetime: { max_seconds: 60 } } }\nteams:\n  a: { rules: { qwiet: { max_lifetime: { max_seconds: 120 } } } }\n',
    );
    const { output, status } = policyCheckCommand([file]);
    expect(status).toBe(1);
    expect(output).toContain(
      'teams.a.rules.qwiet.max_lifetime.max_seconds: 120 would loosen the global cap of 60',
    );
  });

  it('refuses a pattern that can backtrack catastrophically, naming its path', () => {
    const file = write(
      "version: 1\nrules: { qwiet: { label_pattern: { pattern: '(a+)+$' } } }\nteams:\n  a: { rules: { octane: { name_pattern: { pattern: '^([a-z]+)*$' } } } }\n",
    );
    const { output, status } = policyCheckCommand([file]);
    expect(status).toBe(1);
    expect(output).toContain('rules.qwiet.label_pattern: pattern may backtrack catastrophically');
    expect(output).toContain(
      'teams.a.rules.octane.name_pattern: pattern may backtrack catastrophically',
    );
  });

  it('exits 1 for a missing file and 2 without one', () => {
    expect(policyCheckCommand(['/nonexistent.yaml']).status).toBe(1);
    expect(policyCheckCommand([]).status).toBe(2);
  });
});
