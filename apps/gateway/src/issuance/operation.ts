import type { AuditEntry, AuditEvent, AuditTarget } from '@app/audit';
import type { Decision, PolicyRequest } from '@app/policy';
import type { VendorResponse } from '@app/upstream';
import type { RequestMeta } from '../audit/request-meta';
import type { GatewayAnswer } from '../common/vendor-reply';

/** The secret a call sends (the caller's, or one Keygate generated), known before the attempt. */
export interface SentSecret {
  value: string;
  generated: boolean;
}

/** What the vendor call of one request is made with, once the policy has decided. */
export interface VendorCallInput {
  decision: Decision;
  /** Keygate's own id of this request: the marker by which a lost answer is found at the vendor. */
  requestId: string;
  secret?: SentSecret;
}

/** What a successful vendor answer issued, as the ledger records it. */
export interface Issued {
  credentialId?: string;
  /** The issued secret, fingerprinted, never written. */
  secret?: string;
  target?: Partial<AuditTarget>;
}

/** What settling a lost answer knows besides the attempt record. */
export interface LostAnswerContext {
  /** Whether the ledger already shows this credential (then it is not an unrecorded one). */
  isRecorded: (credentialId: string) => boolean;
  /** The secret the request sent, when this process still holds it (never after a restart). */
  secret?: SentSecret;
  /** When the attempt was made, and until when the vendor may still act on it (epoch ms). */
  window: { from: number; to: number };
  /** The window has passed: what is not found now was never issued. */
  final: boolean;
}

/**
 * The words that end a lost answer's note when the vendor's state could not prove what the
 * request did (it is settled as `failed` so it is not asked again, yet a credential of it may
 * exist): an Idempotency-Key's retry then keeps the first answer instead of running again.
 */
export const ADMIN_MUST_CHECK = 'an admin must check';

/** What the vendor shows of a request whose answer was lost (see LostAnswers). */
export type LostAnswerFinding =
  /** Nothing found yet, and the vendor may still act: ask again later. */
  | { kind: 'pending' }
  /** Settled: the phase to record, why, and what it found (the note gets the question's prefix). */
  | { kind: 'settled'; phase: AuditEntry['phase']; note: string; extra?: Partial<AuditEntry> };

/** What the vendor shows of a credential after its revocation (verified revocation). */
export interface RevocationCheck {
  /** The credential no longer works at the vendor. */
  revoked: boolean;
  /** What was seen, for the ledger (never a secret). */
  note: string;
}

/** A look-up before the decision that the vendor refused: its answer goes to the caller, recorded. */
export class VendorAnswered extends Error {
  constructor(readonly answer: VendorResponse) {
    super(`the vendor answered ${answer.status}`);
  }
}

/**
 * One vendor action, as the issuance pipeline drives it: everything that differs between issuing
 * a Qwiet token, creating an Octane key, regenerating or revoking one. The pipeline
 * (IssuancePipeline) does the rest, the same for every action.
 */
export interface IssuanceOperation<I> {
  readonly event: AuditEvent;
  /** Reads the action needs before it is decided (throws VendorAnswered or an UpstreamError). */
  prepare?(input: I): Promise<I>;
  /** What the ledger records about the target. */
  target(input: I): AuditTarget;
  /** What the policy decides on. */
  policy(input: I, meta: RequestMeta): PolicyRequest;
  /** The credential is Keygate's own vendor credential: refused whoever asks. */
  isProtected?(input: I): boolean;
  /** The secret the call will send (its fingerprint goes in the attempt). */
  secret?(input: I, decision: Decision): SentSecret | undefined;
  /** The vendor call. Creates, updates and deletes are never retried. */
  send(input: I, call: VendorCallInput): Promise<VendorResponse>;
  /** What a 2xx answer issued. */
  issued?(input: I, answer: VendorResponse, secret?: SentSecret): Issued;
  /** Undoes what was issued (when its outcome cannot be recorded). */
  undo?(input: I, issued: Issued): Promise<unknown>;
  /** The answer the caller gets (e.g. with the secret Keygate generated, shown once). */
  answer?(result: GatewayAnswer, secret?: SentSecret): GatewayAnswer;
  /**
   * Revocations: whether the credential still works at the vendor, asked after the vendor said it
   * was revoked (throws when the vendor cannot be asked).
   */
  verifyRevoked?(target: AuditTarget): Promise<RevocationCheck>;
  /** What the vendor shows of an attempt whose answer was lost or whose process died. */
  findLost(attempt: AuditEntry, ctx: LostAnswerContext): Promise<LostAnswerFinding>;
}

/** An operation of any input, as the registry of operations by event holds them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyOperation = IssuanceOperation<any>;
