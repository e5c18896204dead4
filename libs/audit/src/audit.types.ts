import type { AuditEventName, AuditPhaseName } from '@app/common';

/** The events of the log (@app/common AUDIT_EVENTS: the policy's changes and the gateway's own). */
export type AuditEvent = AuditEventName;

/** Events that create a new credential: an id the log has not seen before. */
export const CREATING_EVENTS: ReadonlySet<AuditEvent> = new Set<AuditEvent>([
  'qwiet.token.issue',
  'octane.api_access.create',
]);

/** Events that hand out a secret: they count against the issuance quotas. */
export const SECRET_ISSUING_EVENTS: ReadonlySet<AuditEvent> = new Set<AuditEvent>([
  ...CREATING_EVENTS,
  'octane.api_access.regenerate',
]);

/**
 * attempt: the request as decided, on disk before the vendor is called;
 * denied: refused by policy (nothing sent); succeeded / failed: the vendor's outcome;
 * compensated: Keygate revoked a credential it could not record, or one a crash left unrecorded.
 */
export type AuditPhase = AuditPhaseName;

export interface AuditActor {
  subject: string;
  team: string;
  ip?: string;
  user_agent?: string;
  /** How the caller came in: a bearer JWT or the console's session cookie. */
  via?: 'bearer' | 'session';
}

export interface AuditTarget {
  /** Absent on the gateway's own records (policy.loaded, policy.rejected): no vendor is involved. */
  vendor?: 'qwiet' | 'octane';
  org_id?: string;
  shared_space_id?: string;
  credential_id?: string;
  /** The team that owns what is issued (the one that uses the org or space), when not the actor's. */
  owner_team?: string;
  label?: string;
  name?: string;
  client_id?: string;
  role_ids?: string[];
  token_type?: string;
  lifetime_requested?: number | string | null;
  lifetime_effective?: number | string | null;
  expires_at?: string | null;
}

export interface AuditDecision {
  allowed: boolean;
  violations: string[];
  warnings: string[];
  policy_revision: string;
}

export interface AuditVendorOutcome {
  status?: number;
  latency_ms?: number;
  correlation_id?: string;
  error?: string;
}

/** policy.loaded and policy.rejected: which policy is in force, and what a rejected file got wrong. */
export interface AuditPolicyChange {
  /** The file's base name (never its absolute path). */
  file: string;
  /** loaded: the revision now in force; rejected: the rejected file's, when it could be computed. */
  revision?: string;
  /** loaded: the revision it replaced (absent at start-up). */
  previous_revision?: string;
  /** rejected: the revision that stays in force. */
  revision_in_force?: string;
  /** rejected: each problem, path and what is wrong. */
  problems?: string[];
}

/** audit.loss_accepted: the gap an operator accepted (`keygate audit accept-loss`), and why. */
export interface AuditLoss {
  /** What the start-up found wrong. */
  problem: string;
  /** What the head recorded, when it could be read. */
  head?: { seq: number; hash: string };
  /** The last intact record, which this record chains on from. */
  end: { seq: number; hash: string };
  reason: string;
  /** Bytes after the last record that were not records, moved to this file beside the segment. */
  set_aside?: { file: string; bytes: number; sha256: string };
}

/**
 * audit.read: what an auditor asked (filters; for a look-up the fingerprint, never the secret);
 * export: `keygate audit export` (filters: the directory).
 */
export interface AuditRead {
  kind: 'query' | 'fingerprint' | 'verify' | 'export';
  filters?: Record<string, string | number>;
  fingerprint?: string;
  /** Records answered. */
  records?: number;
}

/**
 * offboarding.done and leak.revoked: whose credentials (the owner asked for, or the leaked
 * credential's), and for an offboarding how many were found active, revoked and not revoked.
 */
export interface AuditOwnerAction {
  subject?: string;
  team?: string;
  vendor?: 'qwiet' | 'octane';
  found?: number;
  revoked?: number;
  failed?: number;
}

/** What a caller of the audit log provides; seq, time and the chain are added when it is written. */
export interface AuditEntry {
  /** Keygate's own id of the request, unique: it links an attempt to its outcome. */
  request_id: string;
  /** The caller's X-Request-Id, when it sent one (kept for tracing; never used to link records). */
  caller_request_id?: string;
  event: AuditEvent;
  phase: AuditPhase;
  actor: AuditActor;
  target: AuditTarget;
  decision?: AuditDecision;
  vendor?: AuditVendorOutcome;
  policy?: AuditPolicyChange;
  loss?: AuditLoss;
  read?: AuditRead;
  /** credential.expiring: the notice threshold crossed (`7d`, in seconds). */
  expiry?: { threshold: string; threshold_seconds: number };
  owner?: AuditOwnerAction;
  /** HMAC-SHA256 of the issued secret with the deployment key: never the secret. */
  fingerprint?: string;
  note?: string;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
  prev_hash: string;
  time: string;
  hash: string;
}
