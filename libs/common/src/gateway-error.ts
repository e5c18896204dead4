/** Stable error codes of Keygate's own answers (never a vendor's). */
export const ErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  POLICY_VIOLATION: 'POLICY_VIOLATION',
  /** POST /v1/reconcile while a reconciliation pass runs (in this instance or another). */
  RECONCILE_IN_PROGRESS: 'RECONCILE_IN_PROGRESS',
  /** Keygate's own vendor credential: nobody changes it through the proxy. */
  PROTECTED_CREDENTIAL: 'PROTECTED_CREDENTIAL',
  AUDIT_UNAVAILABLE: 'AUDIT_UNAVAILABLE',
  /** A revocation Keygate decided itself (a leaked secret's credential) that the vendor did not do. */
  REVOCATION_FAILED: 'REVOCATION_FAILED',
  RATE_LIMITED: 'RATE_LIMITED',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  VENDOR_CIRCUIT_OPEN: 'VENDOR_CIRCUIT_OPEN',
  UPSTREAM_UNREACHABLE: 'UPSTREAM_UNREACHABLE',
  UPSTREAM_TIMEOUT: 'UPSTREAM_TIMEOUT',
  UPSTREAM_BAD_RESPONSE: 'UPSTREAM_BAD_RESPONSE',
  UPSTREAM_CREDENTIALS_REJECTED: 'UPSTREAM_CREDENTIALS_REJECTED',
  /** Idempotency-Key: this key's request already issued the credential (its secret was shown once). */
  IDEMPOTENT_REPLAY: 'IDEMPOTENT_REPLAY',
  /** Idempotency-Key: the same key with another request (route or body). */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** Idempotency-Key: the first request with this key is still being handled. */
  IDEMPOTENCY_IN_PROGRESS: 'IDEMPOTENCY_IN_PROGRESS',
  INTERNAL: 'INTERNAL',
  /** A state-changing request through the console's session cookie without its X-CSRF-Token. */
  CSRF_REQUIRED: 'CSRF_REQUIRED',
  /** The console's sign-in failed (state, code, ID token or claims): start again. */
  SIGN_IN_FAILED: 'SIGN_IN_FAILED',
  /** The identity provider cannot be reached (its discovery or token endpoint). */
  SIGN_IN_UNAVAILABLE: 'SIGN_IN_UNAVAILABLE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * An error Keygate answers itself. `details` names what was wrong (a field and its problem);
 * nothing in it may be secret: it is sent to the caller and logged.
 */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';

  constructor(
    readonly status: number,
    readonly code: ErrorCode | string,
    message: string,
    readonly details: Readonly<Record<string, string>> = {},
    /** Structured fields added to the error body (e.g. `violations`). */
    readonly extra: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}
