import type { PolicyActionName } from '@app/common';
import type { CompiledNotify, NotifyDocument } from './notify';

export type Mode = 'enforce' | 'dry_run';
export type OnExceed = 'deny' | 'clamp';

interface Rule {
  mode?: Mode;
}

export interface QwietRules {
  max_lifetime?: Rule & { max_seconds: number; on_exceed?: OnExceed };
  lifetime_required?: Rule;
  allowed_roles?: Rule & { role_ids: string[] };
  denied_roles?: Rule & { role_ids: string[] };
  allowed_token_types?: Rule & { token_types: ('access' | 'integration')[] };
  label_pattern?: Rule & { pattern: string };
  service_account?: Rule & { org_ids: string[]; ci_role_id?: string };
}

export interface OctaneRules {
  max_expiration?: Rule & { max_days: number; on_exceed?: OnExceed };
  expiration_required?: Rule;
  allowed_workspace_roles?: Rule & { workspace_role_ids: string[] };
  roles_in_all_workspaces?: Rule & { role_ids: string[] };
  secret_strength?: Rule & {
    min_length: number;
    min_classes: number;
    forbid_name?: boolean;
    forbid_common?: boolean;
  };
  name_pattern?: Rule & { pattern: string };
}

export interface QuotaRules {
  team_per_hour?: Rule & { max: number };
  subject_per_hour?: Rule & { max: number };
}

export interface RevocationRules {
  other_team?: Rule;
}

/** What a reconciliation pass does with a credential at the vendor that Keygate never issued. */
export type DriftUnknownAction = 'report' | 'revoke';

export interface DriftRules {
  /** report (the default): a drift.unknown_credential record; revoke: that, and revoked at the vendor. */
  unknown?: DriftUnknownAction;
}

export interface RuleSet {
  qwiet?: QwietRules;
  octane?: OctaneRules;
  quota?: QuotaRules;
  revocation?: RevocationRules;
  drift?: DriftRules;
}

export interface TeamSection {
  qwiet_orgs?: string[];
  octane_shared_spaces?: string[];
  rules?: RuleSet;
}

/** The policy file as security writes it (YAML). */
export interface PolicyDocument {
  version: 1;
  rules?: RuleSet;
  teams?: Record<string, TeamSection>;
  /** Expiry thresholds and webhook targets of notifications (libs/policy/src/notify.ts). */
  notify?: NotifyDocument;
}

/** A team's rules after merging its section into the global ones (patterns: all must match). */
export interface EffectiveRules {
  qwiet: Omit<QwietRules, 'label_pattern'> & { label_patterns: { pattern: string; mode: Mode }[] };
  octane: Omit<OctaneRules, 'name_pattern'> & { name_patterns: { pattern: string; mode: Mode }[] };
  quota: QuotaRules;
  revocation: RevocationRules;
  /** Absent when neither the global rules nor the team's set it (then: report). */
  drift?: DriftRules;
}

export interface TeamPolicy {
  qwietOrgs: string[];
  octaneSharedSpaces: string[];
  rules: EffectiveRules;
}

export interface CompiledPolicy {
  revision: string;
  document: PolicyDocument;
  teams: ReadonlyMap<string, TeamPolicy>;
  /** Rules for a team with no section: the global ones, and no org or shared space. */
  fallback: TeamPolicy;
  /** Expiry thresholds (largest first) and webhook targets. */
  notify: CompiledNotify;
}

export interface PolicyCaller {
  subject: string;
  team: string;
  roles: readonly string[];
}

export interface QwietTokenRequest {
  label: string;
  role_id: string;
  token_type?: string;
  valid_for_seconds?: number;
}

export interface OctaneKeyRequest {
  name: string;
  client_secret?: string;
  expiration?: string;
  workspace_role_ids: string[];
  roles_in_all_workspaces: string[];
}

/** Credentials issued in the last hour, for the quota rules (the caller's team and subject). */
export interface Usage {
  teamLastHour: number;
  subjectLastHour: number;
}

/** An admin acting in an org or space several teams list names the team the credential is for. */
interface ForTeam {
  forTeam?: string;
}

export type PolicyRequest =
  | { action: 'qwiet.read'; orgId: string }
  | ({
      action: 'qwiet.token.issue';
      orgId: string;
      token: QwietTokenRequest;
      usage?: Usage;
    } & ForTeam)
  | { action: 'qwiet.token.revoke'; orgId: string; tokenId: string; ownerTeam?: string }
  | { action: 'octane.read'; sharedSpaceId: string }
  | ({
      action: 'octane.api_access.create';
      sharedSpaceId: string;
      key: OctaneKeyRequest;
      usage?: Usage;
    } & ForTeam)
  | ({
      action: 'octane.api_access.regenerate';
      sharedSpaceId: string;
      id: string;
      /** The key as it is at Octane (name, expiration, roles) with the new secret: judged like a create. */
      key: OctaneKeyRequest;
      /** The key is revoked: the regeneration would bring it back (octane.reactivation). */
      reactivates: boolean;
      ownerTeam?: string;
      usage?: Usage;
    } & ForTeam)
  | { action: 'octane.api_access.revoke'; sharedSpaceId: string; id: string; ownerTeam?: string };

export type PolicyAction = PolicyRequest['action'];

/** The request union names exactly the actions of @app/common's POLICY_ACTIONS (checked here). */
type SameSet<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const POLICY_ACTIONS_MATCH: SameSet<PolicyAction, PolicyActionName> = true;

export interface Finding {
  /** Stable rule id, e.g. `qwiet.max_lifetime`. */
  rule: string;
  message: string;
  limit?: unknown;
  actual?: unknown;
}

export interface Decision {
  allowed: boolean;
  /**
   * The team whose rules applied and who owns what is issued: the team that lists the org or
   * shared space (the caller's own, or for an admin acting elsewhere the one that lists it).
   */
  team: string;
  /** Enforced rules that were broken: any one denies. */
  violations: Finding[];
  /** Dry-run rules that were broken, and clamps applied. */
  warnings: Finding[];
  /** What Keygate sends after clamps: the lifetime or expiration actually requested. */
  effective: { valid_for_seconds?: number; expiration?: string; generate_secret?: boolean };
  /** Every rule that was evaluated for this request, in order. */
  evaluated: string[];
  revision: string;
}
