import { compilePolicy, PolicyError } from './policy.compile';
import { driftUnknownAction } from './evaluate';

const ORG_A = '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42';
const ORG_B = '7d3e9a14-5b2c-4f8e-a1d6-3c9b8e2f4a51';
const ORG_C = '0b1e2d3c-4f5a-4b6c-8d7e-9f0a1b2c3d4e';

const policy = (global: string, payments = '', platform = '') =>
  compilePolicy(
    [
      'version: 1',
      global && `rules:\n  drift: { unknown: ${global} }`,
      'teams:',
      `  payments:`,
      `    qwiet_orgs: [${ORG_A}, ${ORG_B}]`,
      `    octane_shared_spaces: ['1001']`,
      payments && `    rules: { drift: { unknown: ${payments} } }`,
      `  platform:`,
      `    qwiet_orgs: [${ORG_B}]`,
      `    octane_shared_spaces: ['2002']`,
      platform && `    rules: { drift: { unknown: ${platform} } }`,
      '',
    ]
      .filter((l) => l !== '')
      .join('\n'),
  );

describe('policy: drift.unknown (what a reconciliation pass does with a credential Keygate never issued)', () => {
  it('reports by default, everywhere', () => {
    const p = policy('');
    expect(driftUnknownAction(p, 'qwiet', ORG_A)).toBe('report');
    expect(driftUnknownAction(p, 'octane', '1001')).toBe('report');
    expect(driftUnknownAction(p, 'qwiet', ORG_C)).toBe('report');
    expect(p.teams.get('payments')!.rules.drift).toBeUndefined();
  });

  it('follows the global setting where no team says otherwise, and for scopes no team lists', () => {
    const p = policy('revoke');
    expect(driftUnknownAction(p, 'qwiet', ORG_A)).toBe('revoke');
    expect(driftUnknownAction(p, 'qwiet', ORG_C)).toBe('revoke');
    expect(p.teams.get('platform')!.rules.drift).toEqual({ unknown: 'revoke' });
  });

  it('lets a team revoke in the scopes it lists; where several teams list one, revoke wins', () => {
    const p = policy('report', '', 'revoke');
    expect(driftUnknownAction(p, 'octane', '2002')).toBe('revoke');
    expect(driftUnknownAction(p, 'octane', '1001')).toBe('report');
    expect(driftUnknownAction(p, 'qwiet', ORG_A)).toBe('report');
    // ORG_B is listed by payments (report) and platform (revoke): the stricter.
    expect(driftUnknownAction(p, 'qwiet', ORG_B.toUpperCase())).toBe('revoke');
  });

  it('refuses a team that would loosen a global revoke, and anything but report or revoke', () => {
    expect(() => policy('revoke', 'report')).toThrow(PolicyError);
    expect(() => policy('revoke', 'report')).toThrow(
      /teams\.payments\.rules\.drift\.unknown: report would loosen the global rule \(revoke\)/,
    );
    expect(() => policy('delete')).toThrow(/rules\.drift\.unknown: must be equal to one of/);
    expect(() => compilePolicy('version: 1\nrules: { drift: { unkown: report } }')).toThrow(
      /rules\.drift: must NOT have additional properties \(unkown\)/,
    );
  });
});
