import { createHash } from 'node:crypto';
import Ajv from 'ajv';
import type * as Recheck from 'recheck';
import { parseDocument } from 'yaml';
import { compileNotify } from './notify';
import { POLICY_SCHEMA } from './policy.schema';
import type {
  CompiledPolicy,
  EffectiveRules,
  Mode,
  PolicyDocument,
  RuleSet,
  TeamPolicy,
} from './policy.types';

export class PolicyError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid policy:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PolicyError';
  }
}

const validateSchema = new Ajv({ allErrors: true, strict: true }).compile(POLICY_SCHEMA);
const dotted = (pointer: string): string =>
  pointer
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.') || '(document)';

/** Canonical JSON (sorted keys): the revision hashes what the policy says, not how it is formatted. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export function policyRevision(document: PolicyDocument): string {
  return `sha256:${createHash('sha256').update(canonical(document)).digest('hex')}`;
}

/** Parses and checks a policy file; every problem is named (path and what is wrong) in one PolicyError. */
export function compilePolicy(text: string): CompiledPolicy {
  const yaml = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (yaml.errors.length > 0) {
    throw new PolicyError(
      yaml.errors.map(
        (e) => `YAML ${e.linePos ? `line ${e.linePos[0].line}` : ''}: ${e.message.split('\n')[0]}`,
      ),
    );
  }
  const document = yaml.toJS() as unknown;
  if (!validateSchema(document)) {
    throw new PolicyError(
      (validateSchema.errors ?? []).map((e) => {
        const where = dotted(e.instancePath);
        const extra =
          e.params && 'additionalProperty' in e.params
            ? ` (${String(e.params.additionalProperty)})`
            : '';
        return `${where}: ${e.message ?? 'invalid'}${extra}`;
      }),
    );
  }
  const doc = document as PolicyDocument;
  const problems: string[] = [];
  checkPatterns(doc.rules, 'rules', problems);
  const global = doc.rules ?? {};
  const teams = new Map<string, TeamPolicy>();
  for (const [team, section] of Object.entries(doc.teams ?? {})) {
    const path = `teams.${team}.rules`;
    checkPatterns(section.rules, path, problems);
    checkTightens(global, section.rules ?? {}, path, problems);
    teams.set(team, {
      qwietOrgs: (section.qwiet_orgs ?? []).map((o) => o.toLowerCase()),
      octaneSharedSpaces: section.octane_shared_spaces ?? [],
      rules: merge(global, section.rules ?? {}),
    });
  }
  const notify = compileNotify(doc.notify, problems);
  if (problems.length > 0) throw new PolicyError(problems);
  return {
    revision: policyRevision(doc),
    document: doc,
    teams,
    fallback: { qwietOrgs: [], octaneSharedSpaces: [], rules: merge(global, {}) },
    notify,
  };
}

function checkPatterns(rules: RuleSet | undefined, path: string, problems: string[]): void {
  const patterns: [string, string | undefined][] = [
    [`${path}.qwiet.label_pattern`, rules?.qwiet?.label_pattern?.pattern],
    [`${path}.octane.name_pattern`, rules?.octane?.name_pattern?.pattern],
  ];
  for (const [where, pattern] of patterns) {
    if (pattern === undefined) continue;
    try {
      new RegExp(pattern, 'u');
    } catch (error) {
      problems.push(
        `${where}.pattern: not a valid regular expression (${(error as Error).message})`,
      );
      continue;
    }
    const risk = backtrackingRisk(pattern);
    if (risk) problems.push(`${where}: pattern ${risk}`);
  }
}

/** recheck (a ReDoS checker), loaded on first use: its pure-JS engine takes ~100 ms to load. */
let recheck: typeof Recheck | undefined;
const RECHECK_TIMEOUT_MS = 5_000;

/**
 * Why a pattern could make matching one label or key name slow, or undefined when it cannot.
 * recheck's automaton checker decides it exactly, in milliseconds, for patterns without
 * back-references and look-arounds; those it cannot decide (only its fuzzer could, in seconds of
 * blocking work and with a verdict that depends on the machine's speed) are refused as unchecked.
 * Exponential and cubic-or-worse patterns are refused; a quadratic one is accepted: a label is at
 * most 200 characters and a key name at most 100, so at most 40,000 steps.
 * Only recheck's pure-JS engine runs here (no JVM, no native binary, no worker thread).
 */
export function backtrackingRisk(pattern: string): string | undefined {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  recheck ??= require('recheck') as typeof Recheck;
  const previous = process.env.RECHECK_SYNC_BACKEND;
  process.env.RECHECK_SYNC_BACKEND = 'pure';
  let result: Recheck.Diagnostics;
  try {
    result = recheck.checkSync(pattern, 'u', {
      checker: 'automaton',
      timeout: RECHECK_TIMEOUT_MS,
    });
  } finally {
    if (previous === undefined) delete process.env.RECHECK_SYNC_BACKEND;
    else process.env.RECHECK_SYNC_BACKEND = previous;
  }
  if (result.status === 'safe') return undefined;
  if (result.status === 'unknown') {
    const why =
      result.error.kind === 'unsupported' ? `it uses a ${result.error.message}` : result.error.kind;
    return `cannot be checked for catastrophic backtracking (${why}); write it without back-references and look-arounds`;
  }
  const { complexity } = result;
  if (complexity.type === 'polynomial' && complexity.degree < 3) return undefined;
  return `may backtrack catastrophically (${complexity.summary} time in the input length, e.g. ${result.attack.pattern})`;
}

const LOOSEN = 'a team may only tighten the global rules';
const modeOf = (rule: { mode?: Mode } | undefined): Mode => rule?.mode ?? 'enforce';

/** Team overrides may tighten a global rule, never loosen it: each attempt is a named problem. */
function checkTightens(global: RuleSet, team: RuleSet, path: string, problems: string[]): void {
  for (const vendor of ['qwiet', 'octane', 'quota', 'revocation'] as const) {
    const g = (global[vendor] ?? {}) as Record<string, Record<string, unknown> | undefined>;
    const t = (team[vendor] ?? {}) as Record<string, Record<string, unknown> | undefined>;
    for (const [name, teamRule] of Object.entries(t)) {
      const globalRule = g[name];
      if (!teamRule || !globalRule) continue;
      const at = `${path}.${vendor}.${name}`;
      if (modeOf(globalRule) === 'enforce' && teamRule.mode === 'dry_run') {
        problems.push(
          `${at}.mode: dry_run would loosen the global rule, which is enforced; ${LOOSEN}`,
        );
      }
      const max = (key: string) => {
        if (
          typeof teamRule[key] === 'number' &&
          (teamRule[key] as number) > (globalRule[key] as number)
        ) {
          problems.push(
            `${at}.${key}: ${teamRule[key]} would loosen the global cap of ${globalRule[key]}; ${LOOSEN}`,
          );
        }
      };
      const min = (key: string) => {
        if (
          typeof teamRule[key] === 'number' &&
          (teamRule[key] as number) < (globalRule[key] as number)
        ) {
          problems.push(
            `${at}.${key}: ${teamRule[key]} would loosen the global minimum of ${globalRule[key]}; ${LOOSEN}`,
          );
        }
      };
      const subset = (key: string) => {
        const extra = ((teamRule[key] as string[] | undefined) ?? []).filter(
          (v) => !(globalRule[key] as string[]).includes(v),
        );
        if (extra.length > 0)
          problems.push(
            `${at}.${key}: ${extra.join(', ')} not allowed by the global rule; ${LOOSEN}`,
          );
      };
      const keepOn = (key: string) => {
        if (globalRule[key] === true && teamRule[key] === false) {
          problems.push(`${at}.${key}: false would loosen the global rule (true); ${LOOSEN}`);
        }
      };
      max('max_seconds');
      max('max_days');
      max('max');
      min('min_length');
      min('min_classes');
      // Deny lists and service-account orgs only grow (they are merged); allow lists may only shrink.
      if (name !== 'denied_roles' && name !== 'service_account') {
        for (const key of ['role_ids', 'token_types', 'workspace_role_ids']) subset(key);
      }
      keepOn('forbid_name');
      keepOn('forbid_common');
    }
  }
  // drift.unknown: revoke is the stricter; a team may not report what the global rules revoke.
  if (global.drift?.unknown === 'revoke' && team.drift?.unknown === 'report') {
    problems.push(`${path}.drift.unknown: report would loosen the global rule (revoke); ${LOOSEN}`);
  }
}

/** A team's fields replace the global ones (already checked to be tighter); an unset mode is inherited. */
function mergeRule<T extends { mode?: Mode }>(g: T | undefined, t: T | undefined): T | undefined {
  return g && t ? { ...g, ...t } : (t ?? g);
}

const union = (a: string[] = [], b: string[] = []) => [...new Set([...a, ...b])];

function merge(global: RuleSet, team: RuleSet): EffectiveRules {
  const gq = global.qwiet ?? {};
  const tq = team.qwiet ?? {};
  const go = global.octane ?? {};
  const to = team.octane ?? {};
  const patterns = (...rules: ({ pattern: string; mode?: Mode } | undefined)[]) =>
    rules.filter((r) => r !== undefined).map((r) => ({ pattern: r.pattern, mode: modeOf(r) }));
  const deniedRoles = mergeRule(gq.denied_roles, tq.denied_roles);
  const serviceAccount = mergeRule(gq.service_account, tq.service_account);
  return {
    qwiet: {
      max_lifetime: mergeRule(gq.max_lifetime, tq.max_lifetime),
      lifetime_required: mergeRule(gq.lifetime_required, tq.lifetime_required),
      allowed_roles: mergeRule(gq.allowed_roles, tq.allowed_roles),
      denied_roles: deniedRoles && {
        ...deniedRoles,
        role_ids: union(gq.denied_roles?.role_ids, tq.denied_roles?.role_ids),
      },
      allowed_token_types: mergeRule(gq.allowed_token_types, tq.allowed_token_types),
      service_account: serviceAccount && {
        ...serviceAccount,
        org_ids: union(gq.service_account?.org_ids, tq.service_account?.org_ids).map((o) =>
          o.toLowerCase(),
        ),
      },
      label_patterns: patterns(gq.label_pattern, tq.label_pattern),
    },
    octane: {
      max_expiration: mergeRule(go.max_expiration, to.max_expiration),
      expiration_required: mergeRule(go.expiration_required, to.expiration_required),
      allowed_workspace_roles: mergeRule(go.allowed_workspace_roles, to.allowed_workspace_roles),
      roles_in_all_workspaces: mergeRule(go.roles_in_all_workspaces, to.roles_in_all_workspaces),
      secret_strength: mergeRule(go.secret_strength, to.secret_strength),
      name_patterns: patterns(go.name_pattern, to.name_pattern),
    },
    quota: {
      team_per_hour: mergeRule(global.quota?.team_per_hour, team.quota?.team_per_hour),
      subject_per_hour: mergeRule(global.quota?.subject_per_hour, team.quota?.subject_per_hour),
    },
    revocation: {
      other_team: mergeRule(global.revocation?.other_team, team.revocation?.other_team),
    },
    drift:
      (team.drift?.unknown ?? global.drift?.unknown) === undefined
        ? undefined
        : { unknown: team.drift?.unknown ?? global.drift?.unknown },
  };
}
