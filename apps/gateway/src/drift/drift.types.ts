/** What one reconciliation pass found in one Qwiet org or Octane shared space. */
export interface ScopeSummary {
  vendor: 'qwiet' | 'octane';
  /** The org id or shared space id. */
  scope: string;
  /** Whether the vendor's whole list was read (every page): only then is "gone" compared. */
  complete: boolean;
  /** Credentials the vendor listed (every page read, or those read before a failure). */
  listed: number;
  /** Credentials of the inventory seen at the vendor (their last_checked_at moved). */
  checked: number;
  /** Unknown credentials reported for the first time by this pass (drift.unknown_credential). */
  unknown: number;
  /** Unknown credentials an earlier pass reported, still there (not reported again). */
  unknown_again: number;
  /** Unknown credentials revoked by the policy (drift.unknown: revoke), through the pipeline. */
  revoked: number;
  /** Active in the inventory, gone or invalid at the vendor (drift.revoked_outside). */
  revoked_outside: number;
  /** Active in the inventory, expired at the vendor (credential.expired). */
  expired: number;
  /** Left alone this pass: a change through Keygate still in flight (attempt without outcome). */
  in_flight: number;
  /** Why the scope's list could not be read whole (the vendor's failure; never a secret). */
  error?: string;
}

/** One revocation the policy asked for, and how it went. */
export interface DriftRevocation {
  vendor: 'qwiet' | 'octane';
  scope: string;
  credential_id: string;
  /** The revocation's own request id in the ledger (its attempt and outcome records). */
  request_id: string;
  /** The vendor's status, or the error code when it did not get that far. */
  status?: number;
  error?: string;
}

/** The drift.pass record's `drift` field: one pass, its counts per vendor and scope, its errors. */
export interface PassSummary {
  /** The pass's id: every record it wrote (drift.*, credential.expired) carries it as request_id. */
  pass_id: string;
  trigger: 'schedule' | 'request';
  /** Who asked, for a pass run by POST /v1/reconcile. */
  requested_by?: { subject: string; team: string };
  /** By the lifecycle clock (ISO 8601). */
  started_at: string;
  finished_at: string;
  duration_ms: number;
  scopes: ScopeSummary[];
  totals: {
    listed: number;
    unknown: number;
    revoked: number;
    revoked_outside: number;
    expired: number;
  };
  revocations: DriftRevocation[];
  /** Each scope whose list failed or was partial: vendor, scope, what went wrong. */
  errors: { vendor: 'qwiet' | 'octane'; scope: string; error: string }[];
}
