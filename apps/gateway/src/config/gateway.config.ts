import type { AuthConfig } from '@app/auth';
import type { TrustProxy } from './trust-proxy';
import type { NotifyConfig } from '../notifications/notify.config';
import type { SignInConfig } from '../session/sign-in.config';
import type { OctaneUpstreamConfig, QwietUpstreamConfig, TransportOptions } from '@app/upstream';

export interface GatewayConfig {
  http: {
    host: string;
    port: number;
    bodyLimitBytes: number;
    /** TRUST_PROXY: whose X-Forwarded-For to believe (Fastify's trustProxy); undefined: nobody's. */
    trustProxy?: TrustProxy;
  };
  auth: AuthConfig;
  /** The console's sign-in: OIDC (when OIDC_ISSUER is set) and the session timeouts. */
  signIn: SignInConfig;
  qwiet: QwietUpstreamConfig;
  /** Keygate's own Qwiet token id by org, where the operator named it (else read from its jti). */
  qwietOwnTokenIds: Readonly<Record<string, string>>;
  octane: OctaneUpstreamConfig;
  transport: TransportOptions;
  /** The token policy file (YAML); teams, scopes and rules live there. */
  policyFile: string;
  audit: {
    /** Deployment key of the secret fingerprints, the head MAC and the checkpoints (HKDF). */
    hmacKey: string;
    /** Also send each record to stdout (best effort; the ledger stays the record). */
    stdout: boolean;
  };
  /**
   * DATABASE_URL: the PostgreSQL store, the one store of the ledger, quotas and inventory
   * (connected and migrated at start-up). Never logged (it carries the password: show
   * redactDatabaseUrl's form).
   */
  database: { url: string };
  log: { level: string };
  /** Requests per minute for each authenticated caller, all routes together. */
  rateLimitPerMinute: number;
  health: {
    /** At most one vendor call per vendor this often for /health/ready (HEALTH_VENDOR_CHECK_MS). */
    vendorCheckMs: number;
  };
  /**
   * How long after a call a vendor may still act on it (a slow vendor finishing after Keygate gave
   * up): a credential not found at the vendor before then may still appear.
   */
  lostAnswerWindowMs: number;
  /** RECONCILE_INTERVAL: a drift reconciliation pass this often on the lifecycle clock; 0: none scheduled. */
  reconcileIntervalMs: number;
  /** Crash recovery across instances (IssuanceRecovery, README "Crash recovery"). */
  recovery: {
    /**
     * RECOVERY_AFTER_MS (default UPSTREAM_DEADLINE_MS + 60 s): an attempt with no outcome is left
     * to the instance that made it this long, a lost answer this long after the lost-answer
     * window; then any instance's recovery pass takes it.
     */
    afterMs: number;
    /** The same for the pass at start-up: 0 with RECOVERY_AFTER_MS=0 (one instance). */
    atStartAfterMs: number;
    /** RECOVERY_INTERVAL: a recovery pass this often (wall time); 0: at start-up only. */
    intervalMs: number;
  };
  /** Notifications: expiry scans, outbox deliveries, webhook secrets (NOTIFY_*, WEBHOOK_SECRET_*). */
  notify: NotifyConfig;
}
