import { readFileSync } from 'node:fs';
import { compilePolicy, PolicyError, TeamPolicy } from '@app/policy';
import { stringify } from 'yaml';

export const POLICY_CHECK_USAGE = `keygate policy check FILE
  Validates a policy file (schema, regular expressions and whether they can backtrack
  catastrophically, team sections that would loosen a global rule) and prints its revision and
  the effective rules of each team. Exit status 1 when invalid.`;

function effective(team: TeamPolicy) {
  return {
    qwiet_orgs: team.qwietOrgs,
    octane_shared_spaces: team.octaneSharedSpaces,
    rules: team.rules,
  };
}

/** `keygate policy check FILE`: the report to print and the exit status. */
export function policyCheckCommand(args: string[]): { output: string; status: number } {
  const [file, ...extra] = args;
  if (!file || extra.length > 0) return { output: `usage: ${POLICY_CHECK_USAGE}`, status: 2 };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return {
      output: `${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      status: 1,
    };
  }
  try {
    const policy = compilePolicy(text);
    const teams = Object.fromEntries(
      [...policy.teams].map(([name, team]) => [name, effective(team)]),
    );
    const report = {
      file,
      valid: true,
      revision: policy.revision,
      teams,
      other_teams: effective(policy.fallback),
    };
    return { output: stringify(report, { lineWidth: 0, aliasDuplicateObjects: false }), status: 0 };
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    return {
      output: `${file}: invalid policy\n${error.problems.map((p) => `  - ${p}`).join('\n')}`,
      status: 1,
    };
  }
}
