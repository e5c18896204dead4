import { GatewayRole, QWIET_CI_ROLE_ID } from '@app/common';
import { characterClasses, isCommonPassword } from './secrets';
import type {
  CompiledPolicy,
  Decision,
  DriftUnknownAction,
  Finding,
  Mode,
  OctaneKeyRequest,
  PolicyCaller,
  PolicyRequest,
  QwietTokenRequest,
  TeamPolicy,
  Usage,
} from './policy.types';

const ADMIN_ROLE = GatewayRole.ADMIN;
/** Qwiet's CI Token role (@app/common): the only one a service-account token may create. */
export { QWIET_CI_ROLE_ID };
const DAY_MS = 24 * 3600 * 1000;

/** The actions that issue a credential or a secret: what they issue is owned by a team. */
const ISSUING_ACTIONS: ReadonlySet<PolicyRequest['action']> = new Set<PolicyRequest['action']>([
  'qwiet.token.issue',
  'octane.api_access.create',
  'octane.api_access.regenerate',
]);

/** Compiled patterns, memoised: the policy's patterns are few and fixed between reloads. */
const compiled = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) compiled.set(pattern, (re = new RegExp(pattern, 'u')));
  return re;
}

/** Collects what each evaluated rule found: enforced breaks deny, dry-run breaks warn. */
class Findings {
  readonly violations: Finding[] = [];
  readonly warnings: Finding[] = [];
  readonly evaluated: string[] = [];
  readonly effective: Decision['effective'] = {};

  check(rule: string, mode: Mode | undefined, ok: boolean, finding: Omit<Finding, 'rule'>): void {
    this.evaluated.push(rule);
    if (ok) return;
    ((mode ?? 'enforce') === 'enforce' ? this.violations : this.warnings).push({
      rule,
      ...finding,
    });
  }

  warn(rule: string, finding: Omit<Finding, 'rule'>): void {
    this.warnings.push({ rule, ...finding });
  }
}

/**
 * The policy decision for one request: a pure function of the compiled policy, the caller, the
 * request and the time. No I/O; every rule it applies is listed in `evaluated`.
 */
export function evaluate(
  policy: CompiledPolicy,
  caller: PolicyCaller,
  request: PolicyRequest,
  now: Date,
): Decision {
  const own = policy.teams.get(caller.team) ?? policy.fallback;
  const admin = caller.roles.includes(ADMIN_ROLE);
  const f = new Findings();
  const scope = scopeOf(request);
  f.check(scope.rule, 'enforce', admin || scope.listedBy(own), {
    message: `team ${caller.team} may not use ${scope.what}`,
    limit: scope.of(own),
    actual: scope.id,
  });
  const owner = owningTeam(policy, caller, request, f);
  // The rules of the team that owns the scope, then (an admin acting elsewhere) the caller's own.
  const chain = owner === caller.team ? [own] : [policy.teams.get(owner) ?? own, own];
  let req = request;
  for (const team of chain) {
    actionRules(team, caller, admin, req, now, f);
    req = withEffective(req, f.effective);
  }
  return {
    allowed: f.violations.length === 0,
    team: owner,
    violations: f.violations,
    warnings: f.warnings,
    effective: f.effective,
    evaluated: [...new Set(f.evaluated)],
    revision: policy.revision,
  };
}

/** The org or shared space a request addresses, and how a team section lists it. */
function scopeOf(request: PolicyRequest) {
  if (request.action.startsWith('qwiet.')) {
    const id = (request as { orgId: string }).orgId.toLowerCase();
    const of = (t: TeamPolicy) => t.qwietOrgs;
    return {
      rule: 'scope.qwiet_org',
      what: `Qwiet org ${id}`,
      id,
      of,
      listedBy: (t: TeamPolicy) => of(t).includes(id),
    };
  }
  const id = (request as { sharedSpaceId: string }).sharedSpaceId;
  const of = (t: TeamPolicy) => t.octaneSharedSpaces;
  return {
    rule: 'scope.octane_shared_space',
    what: `shared space ${id}`,
    id,
    of,
    listedBy: (t: TeamPolicy) => of(t).includes(id),
  };
}

/**
 * Who owns what this request issues: the caller's team when it lists the org or space; for an
 * admin acting elsewhere, the team that lists it, or (several do) the one the admin names, which
 * must be one of them (`scope.owner_team`). A pure function of the policy and the request.
 */
export function owningTeam(
  policy: CompiledPolicy,
  caller: PolicyCaller,
  request: PolicyRequest,
  f = new Findings(),
): string {
  // Reads and revocations issue nothing, and a member acts for its own team only.
  if (!ISSUING_ACTIONS.has(request.action) || !caller.roles.includes(ADMIN_ROLE))
    return caller.team;
  // An admin's regeneration keeps the key's owner, where Keygate knows it.
  if (request.action === 'octane.api_access.regenerate' && request.ownerTeam !== undefined)
    return request.ownerTeam;
  const scope = scopeOf(request);
  const listing = [...policy.teams].filter(([, t]) => scope.listedBy(t)).map(([name]) => name);
  const named = 'forTeam' in request ? request.forTeam : undefined;
  if (named === undefined && listing.includes(caller.team)) return caller.team;
  if (named === undefined && listing.length <= 1) return listing[0] ?? caller.team;
  f.check('scope.owner_team', 'enforce', named !== undefined && listing.includes(named), {
    message:
      named === undefined
        ? `${scope.what} is used by teams ${listing.join(', ')}: name the team the credential is for (X-Keygate-Team)`
        : `team ${named} does not use ${scope.what}`,
    limit: listing,
    actual: named ?? null,
  });
  return named !== undefined && listing.includes(named) ? named : caller.team;
}

/** The request as the next team's rules see it: after the clamps already applied. */
function withEffective(request: PolicyRequest, effective: Decision['effective']): PolicyRequest {
  switch (request.action) {
    case 'qwiet.token.issue':
      return effective.valid_for_seconds === undefined
        ? request
        : {
            ...request,
            token: { ...request.token, valid_for_seconds: effective.valid_for_seconds },
          };
    case 'octane.api_access.create':
    case 'octane.api_access.regenerate':
      return effective.expiration === undefined
        ? request
        : { ...request, key: { ...request.key, expiration: effective.expiration } };
    default:
      return request;
  }
}

function actionRules(
  team: TeamPolicy,
  caller: PolicyCaller,
  admin: boolean,
  request: PolicyRequest,
  now: Date,
  f: Findings,
): void {
  switch (request.action) {
    case 'qwiet.token.issue':
      qwietIssue(team, request.orgId.toLowerCase(), request.token, f);
      quota(team, request.usage, f);
      break;
    case 'octane.api_access.create':
      octaneCreate(team, request.key, now, f);
      quota(team, request.usage, f);
      break;
    case 'octane.api_access.regenerate':
      otherTeam(team, caller, admin, request.ownerTeam, f);
      f.check('octane.reactivation', 'enforce', admin || !request.reactivates, {
        message: 'the key is revoked: only keygate:admin may bring it back',
        limit: ADMIN_ROLE,
        actual: caller.roles,
      });
      octaneCreate(team, request.key, now, f);
      quota(team, request.usage, f);
      break;
    case 'qwiet.token.revoke':
    case 'octane.api_access.revoke':
      otherTeam(team, caller, admin, request.ownerTeam, f);
      break;
  }
}

function qwietIssue(team: TeamPolicy, orgId: string, token: QwietTokenRequest, f: Findings): void {
  const r = team.rules.qwiet;
  const roleId = token.role_id.toLowerCase();
  // Qwiet does not document its default token_type; the simulator (and this rule) take integration.
  const tokenType = token.token_type ?? 'integration';

  if (r.service_account && r.service_account.org_ids.includes(orgId)) {
    const ciRole = (r.service_account.ci_role_id ?? QWIET_CI_ROLE_ID).toLowerCase();
    f.check(
      'qwiet.service_account',
      r.service_account.mode,
      roleId === ciRole && tokenType === 'access',
      {
        message:
          'this org is served by a service-account token: only CI tokens (the CI role, token_type access)',
        limit: { role_id: ciRole, token_type: 'access' },
        actual: { role_id: roleId, token_type: tokenType },
      },
    );
  }
  if (r.allowed_token_types) {
    f.check(
      'qwiet.allowed_token_types',
      r.allowed_token_types.mode,
      r.allowed_token_types.token_types.includes(tokenType as 'access'),
      {
        message: `token_type ${tokenType} is not allowed`,
        limit: r.allowed_token_types.token_types,
        actual: tokenType,
      },
    );
  }
  if (r.allowed_roles) {
    const allowed = r.allowed_roles.role_ids.map((id) => id.toLowerCase());
    f.check('qwiet.allowed_roles', r.allowed_roles.mode, allowed.includes(roleId), {
      message: `role_id ${roleId} is not in the allowed roles`,
      limit: allowed,
      actual: roleId,
    });
  }
  if (r.denied_roles) {
    const denied = r.denied_roles.role_ids.map((id) => id.toLowerCase());
    f.check('qwiet.denied_roles', r.denied_roles.mode, !denied.includes(roleId), {
      message: `role_id ${roleId} is denied`,
      limit: denied,
      actual: roleId,
    });
  }
  for (const { pattern, mode } of r.label_patterns) {
    f.check('qwiet.label_pattern', mode, regex(pattern).test(token.label), {
      message: 'label does not match the required pattern',
      limit: pattern,
      actual: token.label,
    });
  }

  const lifetime = token.valid_for_seconds;
  const cap = r.max_lifetime;
  const clamps =
    cap !== undefined && cap.on_exceed === 'clamp' && (cap.mode ?? 'enforce') === 'enforce';
  if (cap && lifetime !== undefined) {
    if (lifetime > cap.max_seconds && clamps) {
      f.effective.valid_for_seconds = cap.max_seconds;
      f.evaluated.push('qwiet.max_lifetime');
      f.warn('qwiet.max_lifetime', {
        message: `valid_for_seconds clamped to the cap of ${cap.max_seconds}`,
        limit: cap.max_seconds,
        actual: lifetime,
      });
    } else {
      f.check('qwiet.max_lifetime', cap.mode, lifetime <= cap.max_seconds, {
        message: `valid_for_seconds exceeds the cap of ${cap.max_seconds}`,
        limit: cap.max_seconds,
        actual: lifetime,
      });
    }
  }
  if (r.lifetime_required) {
    if (lifetime === undefined && clamps) {
      f.effective.valid_for_seconds = cap.max_seconds;
      f.evaluated.push('qwiet.lifetime_required');
      f.warn('qwiet.lifetime_required', {
        message: `no valid_for_seconds sent: set to the cap of ${cap.max_seconds}`,
        limit: cap.max_seconds,
        actual: null,
      });
    } else {
      f.check('qwiet.lifetime_required', r.lifetime_required.mode, lifetime !== undefined, {
        message: 'valid_for_seconds is required: no non-expiring tokens',
        limit: 'required',
        actual: null,
      });
    }
  }
}

function octaneCreate(team: TeamPolicy, key: OctaneKeyRequest, now: Date, f: Findings): void {
  const r = team.rules.octane;
  for (const { pattern, mode } of r.name_patterns) {
    f.check('octane.name_pattern', mode, regex(pattern).test(key.name), {
      message: 'name does not match the required pattern',
      limit: pattern,
      actual: key.name,
    });
  }
  if (r.allowed_workspace_roles) {
    const outside = key.workspace_role_ids.filter(
      (id) => !r.allowed_workspace_roles?.workspace_role_ids.includes(id),
    );
    f.check(
      'octane.allowed_workspace_roles',
      r.allowed_workspace_roles.mode,
      outside.length === 0,
      {
        message: `workspace roles not allowed: ${outside.join(', ')}`,
        limit: r.allowed_workspace_roles.workspace_role_ids,
        actual: key.workspace_role_ids,
      },
    );
  }
  if (r.roles_in_all_workspaces) {
    const outside = key.roles_in_all_workspaces.filter(
      (id) => !r.roles_in_all_workspaces?.role_ids.includes(id),
    );
    f.check(
      'octane.roles_in_all_workspaces',
      r.roles_in_all_workspaces.mode,
      outside.length === 0,
      {
        message: `roles in all workspaces not allowed: ${outside.join(', ')}`,
        limit: r.roles_in_all_workspaces.role_ids,
        actual: key.roles_in_all_workspaces,
      },
    );
  }

  const cap = r.max_expiration;
  const clamps =
    cap !== undefined && cap.on_exceed === 'clamp' && (cap.mode ?? 'enforce') === 'enforce';
  const latest = cap && new Date(now.getTime() + cap.max_days * DAY_MS);
  const latestIso = latest?.toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (cap && latest && key.expiration !== undefined) {
    const at = Date.parse(key.expiration);
    if (at > latest.getTime() && clamps) {
      f.effective.expiration = latestIso;
      f.evaluated.push('octane.max_expiration');
      f.warn('octane.max_expiration', {
        message: `expiration clamped to ${cap.max_days} days from now`,
        limit: latestIso,
        actual: key.expiration,
      });
    } else {
      f.check('octane.max_expiration', cap.mode, at > now.getTime() && at <= latest.getTime(), {
        message:
          at <= now.getTime()
            ? 'expiration is not in the future'
            : `expiration is more than ${cap.max_days} days ahead`,
        limit: latestIso,
        actual: key.expiration,
      });
    }
  }
  if (r.expiration_required) {
    if (key.expiration === undefined && clamps) {
      f.effective.expiration = latestIso;
      f.evaluated.push('octane.expiration_required');
      f.warn('octane.expiration_required', {
        message: `no expiration sent: set to ${cap.max_days} days from now`,
        limit: latestIso,
        actual: null,
      });
    } else {
      f.check(
        'octane.expiration_required',
        r.expiration_required.mode,
        key.expiration !== undefined,
        {
          message: 'expiration is required: no keys without an end',
          limit: 'required',
          actual: null,
        },
      );
    }
  }
  secretStrength(team, key.client_secret, key.name, f);
}

/** Checks a caller's secret (never quoting it); no secret means Keygate generates a strong one. */
function secretStrength(
  team: TeamPolicy,
  secret: string | undefined,
  name: string | undefined,
  f: Findings,
): void {
  if (secret === undefined) {
    f.effective.generate_secret = true;
    return;
  }
  const rule = team.rules.octane.secret_strength;
  if (!rule) return;
  const problems: string[] = [];
  if (secret.length < rule.min_length || secret.length > 30)
    problems.push(`${rule.min_length} to 30 characters`);
  if (characterClasses(secret) < rule.min_classes)
    problems.push(`${rule.min_classes} of the 4 character classes`);
  if (
    rule.forbid_name !== false &&
    name &&
    name.length >= 3 &&
    secret.toLowerCase().includes(name.toLowerCase())
  ) {
    problems.push('must not contain the key name');
  }
  if (rule.forbid_common !== false && isCommonPassword(secret))
    problems.push('must not be a common password');
  f.check('octane.secret_strength', rule.mode, problems.length === 0, {
    message: `client_secret is too weak: ${problems.join('; ')}`,
    limit: { min_length: rule.min_length, max_length: 30, min_classes: rule.min_classes },
    actual: { length: secret.length, classes: characterClasses(secret) },
  });
}

/** Issuance quotas: this request would be one more in the hour. Without usage figures, not evaluated. */
function quota(team: TeamPolicy, usage: Usage | undefined, f: Findings): void {
  if (!usage) return;
  const { team_per_hour: perTeam, subject_per_hour: perSubject } = team.rules.quota;
  if (perTeam) {
    f.check('quota.team_per_hour', perTeam.mode, usage.teamLastHour < perTeam.max, {
      message: `the team has issued ${usage.teamLastHour} credentials in the last hour (at most ${perTeam.max})`,
      limit: perTeam.max,
      actual: usage.teamLastHour + 1,
    });
  }
  if (perSubject) {
    f.check('quota.subject_per_hour', perSubject.mode, usage.subjectLastHour < perSubject.max, {
      message: `the caller has issued ${usage.subjectLastHour} credentials in the last hour (at most ${perSubject.max})`,
      limit: perSubject.max,
      actual: usage.subjectLastHour + 1,
    });
  }
}

function otherTeam(
  team: TeamPolicy,
  caller: PolicyCaller,
  admin: boolean,
  owner: string | undefined,
  f: Findings,
): void {
  const rule = team.rules.revocation.other_team;
  if (!rule) return;
  f.check('revocation.other_team', rule.mode, admin || owner === caller.team, {
    message:
      owner === undefined
        ? 'Keygate has no record of who issued this credential: only keygate:admin may change it'
        : `issued by team ${owner}: only that team or keygate:admin may change it`,
    limit: owner ?? 'unknown owner',
    actual: caller.team,
  });
}

/**
 * What a reconciliation pass does with a credential at the vendor that Keygate never issued, in
 * this org or shared space: the `drift.unknown` of the teams that list it (revoke when any of them
 * says revoke: the stricter wins), or the global rules' where no team lists it; report by default.
 */
export function driftUnknownAction(
  policy: CompiledPolicy,
  vendor: 'qwiet' | 'octane',
  scopeId: string,
): DriftUnknownAction {
  const id = vendor === 'qwiet' ? scopeId.toLowerCase() : scopeId;
  const listing = [...policy.teams.values()].filter((t) =>
    (vendor === 'qwiet' ? t.qwietOrgs : t.octaneSharedSpaces).includes(id),
  );
  const rules = (listing.length > 0 ? listing : [policy.fallback]).map((t) => t.rules);
  return rules.some((r) => r.drift?.unknown === 'revoke') ? 'revoke' : 'report';
}
