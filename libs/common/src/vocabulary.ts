/*
 * The names Keygate's parts share, defined once. Plain constants only: libs/policy imports them,
 * and libs/common pulls in no Nest, axios or file system (eslint.config.mjs checks it).
 */

/** The gateway roles a company JWT may carry. */
export const GatewayRole = {
  ADMIN: 'keygate:admin',
  AUDITOR: 'keygate:auditor',
  /** The security team that owns the policy: sees every team's section of it. */
  SECURITY: 'keygate:security',
  /** A Prometheus scraper: /metrics and nothing else. */
  METRICS: 'keygate:metrics',
} as const;
export type GatewayRole = (typeof GatewayRole)[keyof typeof GatewayRole];

/**
 * Qwiet's managed "CI Token" role, the one role a service-account token may create. (The
 * simulator keeps its own copy on purpose: it shares no code with the gateway.)
 */
export const QWIET_CI_ROLE_ID = '66ad5168-41be-4b6c-9ac5-a30b02229c35';

/** The changes Keygate decides and audits: each is a policy action and an audit event. */
export const CREDENTIAL_ACTIONS = [
  'qwiet.token.issue',
  'qwiet.token.revoke',
  'octane.api_access.create',
  'octane.api_access.revoke',
  'octane.api_access.regenerate',
] as const;
export type CredentialAction = (typeof CREDENTIAL_ACTIONS)[number];

/** Every action the policy decides: the reads of each vendor and the changes. */
export const POLICY_ACTIONS = ['qwiet.read', 'octane.read', ...CREDENTIAL_ACTIONS] as const;
export type PolicyActionName = (typeof POLICY_ACTIONS)[number];

/** Every event of the audit log: the changes and the gateway's own. */
export const AUDIT_EVENTS = [
  ...CREDENTIAL_ACTIONS,
  'audit.tail_repaired',
  'audit.loss_accepted',
  'audit.read',
  'policy.loaded',
  'policy.rejected',
  // The credential lifecycle (issue 14): what Keygate found or did about credentials it holds.
  /** A revocation checked at the vendor: the credential no longer works. */
  'credential.revocation_verified',
  /** A revocation the vendor reported done, yet the credential still works (or could not be checked). */
  'credential.revocation_unverified',
  /** Revoked again by Keygate (the retry of an unverified one), and still working: no new notice. */
  'credential.revocation_still_unverified',
  /** A credential that expires within a notice threshold. */
  'credential.expiring',
  /** A credential past its expiry (by its recorded expiry, or as the vendor shows it). */
  'credential.expired',
  /** A credential at the vendor that Keygate never issued. */
  'drift.unknown_credential',
  /** A credential active in the inventory that the vendor no longer has (revoked outside Keygate). */
  'drift.revoked_outside',
  /** One reconciliation pass: counts per vendor and scope, duration, errors. */
  'drift.pass',
  /** A leaked secret looked up (found or not). */
  'leak.lookup',
  /** A leaked secret's credential revoked. */
  'leak.revoked',
  /** Every active credential of a subject or team revoked (offboarding). */
  'offboarding.done',
] as const;
export type AuditEventName = (typeof AUDIT_EVENTS)[number];

/** The events that are notifications: their `succeeded` records go to the outbox (webhooks). */
export const NOTIFICATION_EVENTS = [
  'credential.expiring',
  'credential.expired',
  'drift.unknown_credential',
  'credential.revocation_unverified',
  'leak.revoked',
  'offboarding.done',
] as const satisfies readonly AuditEventName[];
export type NotificationEventName = (typeof NOTIFICATION_EVENTS)[number];

/**
 * The states of a credential in the inventory. `revoke_unverified`: revoked at the vendor's word but
 * still working there (or not checkable yet); `revoked_outside`: gone at the vendor without a
 * revocation through Keygate.
 */
export const CREDENTIAL_STATUSES = [
  'active',
  'revoked',
  'revoke_unverified',
  'revoked_outside',
  'expired',
  'compensated',
] as const;
export type CredentialStatus = (typeof CREDENTIAL_STATUSES)[number];

/**
 * The notes of the records that settle a request whose outcome was unknown (a lost answer, or a
 * crash between the attempt and its outcome), as a regular expression (JavaScript and SQL `~`):
 * `lost answer: ...` and `crash recovery: ...`, the `why` LostAnswers writes before its finding.
 */
export const SETTLING_NOTE = '^(lost answer|crash recovery):';

/** The phases of an audit record: the attempt, then one outcome. */
export const AUDIT_PHASES = ['attempt', 'denied', 'succeeded', 'failed', 'compensated'] as const;
export type AuditPhaseName = (typeof AUDIT_PHASES)[number];

/** A UUID in any version or case (Qwiet's org, role and token ids). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An Octane id in canonical form (no leading zero: `01001` would name key 1001 by another spelling). */
export const OCTANE_ID = /^(?:0|[1-9]\d{0,17})$/;
