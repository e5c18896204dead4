import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { AuditTarget } from '@app/audit';
import { ErrorCode, GatewayError } from '@app/common';
import type { Database } from '@app/ledger';
import { UpstreamError } from '@app/upstream';
import type { VendorResponse } from '@app/upstream';
import { AuditService } from '../audit/audit.service';
import { CLOCK, Clock } from '../common/clock';
import { DATABASE } from '../database/database.tokens';
import { openQuestion, isSettlement } from './open-question';
import { ADMIN_MUST_CHECK } from './operation';

/** How long a key is honoured (on the lifecycle clock). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60_000;

/**
 * A claim still in progress after this long (on the CLOCK) was left by a process that stopped
 * mid-request: the ledger says what became of its request.
 */
export const IDEMPOTENCY_STALE_MS = 15 * 60_000;

/** 1-255 printable ASCII characters (space included). */
const KEY_SYNTAX = /^[\x20-\x7e]{1,255}$/;

/** What a retry with the key gets: the first request's outcome, never a secret. */
type Outcome =
  /** The vendor issued the credential: its id (the secret was in the first answer only). */
  | { kind: 'completed'; status: number; credential_id?: string }
  /** Keygate refused (policy, protected credential, quota, ...): the same error again. */
  | {
      kind: 'error';
      status: number;
      code: string;
      message: string;
      details: Record<string, string>;
      extra: Record<string, unknown>;
    }
  /**
   * The vendor may have acted and the answer did not say (timeout, broken connection): answered
   * again until the ledger settles it (see proof).
   */
  | {
      kind: 'upstream';
      vendor: 'qwiet' | 'octane';
      operation: string;
      failure: UpstreamError['failure'];
      message: string;
      vendor_status?: number;
    }
  /** The vendor answered 5xx (it may have acted): its answer again, until the ledger settles it. */
  | { kind: 'answer'; status: number; body: unknown };

interface Row {
  route: string;
  request_hash: string;
  request_id: string;
  state: 'in_progress' | 'completed' | 'refused';
  outcome: Outcome | null;
  created_at: Date;
}

/** JSON with object keys sorted at every depth: the same request hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The route a key is bound to: the action and the org or shared space (and key) it addresses. */
export const routeOf = (event: string, target: AuditTarget): string =>
  [event, target.org_id ?? target.shared_space_id ?? '', target.credential_id ?? '']
    .filter((part) => part !== '')
    .join(' ');

/** A claimed key: the request that holds it settles it once, however it ends. */
export interface IdempotencyClaim {
  /** The vendor issued (or regenerated) the credential. */
  completed(answer: VendorResponse, credentialId: string | undefined): Promise<void>;
  /** The same answer again for every retry within the key's lifetime. */
  refused(outcome: unknown): Promise<void>;
  /** Nothing was done at the vendor: a retry with the key runs again. */
  release(): Promise<void>;
}

/**
 * Idempotency-Key on creates and regenerations, kept in PostgreSQL per caller subject: the key is
 * claimed (INSERT ... ON CONFLICT DO NOTHING) before the vendor is called, so of two requests with
 * one key, on any instance, one goes on and the other is told it is in progress; the outcome is
 * kept for IDEMPOTENCY_TTL_MS on the CLOCK and answered again to a retry with the same request.
 */
@Injectable()
export class IdempotencyKeys {
  private lastSweep = 0;

  constructor(
    @Inject(DATABASE) private readonly database: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly audit: AuditService,
  ) {}

  /** The key as sent: 400 VALIDATION_FAILED unless one header of 1-255 printable characters. */
  static parse(header: string | string[] | undefined): string | undefined {
    if (header === undefined) return undefined;
    if (typeof header !== 'string' || !KEY_SYNTAX.test(header)) {
      throw new GatewayError(400, ErrorCode.VALIDATION_FAILED, 'invalid Idempotency-Key', {
        'Idempotency-Key': 'must be sent once, 1-255 printable ASCII characters',
      });
    }
    return header;
  }

  /**
   * Claims `key` for this request, or throws what the key's first request answered: 409
   * IDEMPOTENT_REPLAY (issued), its error again, 409 IDEMPOTENCY_IN_PROGRESS, or 422
   * IDEMPOTENCY_KEY_REUSED when the key came with another request.
   */
  async claim(
    subject: string,
    key: string,
    route: string,
    request: unknown,
    requestId: string,
    retried = false,
  ): Promise<IdempotencyClaim> {
    const now = this.clock.now();
    await this.sweep(now);
    const hash = createHash('sha256').update(canonicalJson(request)).digest('hex');
    const at = new Date(now);
    // An expired key is free again.
    await this.database.query(
      'DELETE FROM idempotency_keys WHERE subject = $1 AND idem_key = $2 AND expires_at <= $3',
      [subject, key, at],
    );
    const claimed = await this.database.query(
      `INSERT INTO idempotency_keys (subject, idem_key, route, request_hash, request_id, state,
                                     created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, 'in_progress', $6, $7)
       ON CONFLICT (subject, idem_key) DO NOTHING`,
      [subject, key, route, hash, requestId, at, new Date(now + IDEMPOTENCY_TTL_MS)],
    );
    if (claimed.rowCount === 1) return this.held(subject, key);
    const { rows } = await this.database.query<Row>(
      `SELECT route, request_hash, request_id, state, outcome, created_at FROM idempotency_keys
       WHERE subject = $1 AND idem_key = $2`,
      [subject, key],
    );
    const first = rows[0];
    // Released between the two statements: the caller may simply try again.
    if (!first) throw inProgress();
    if (first.route !== route || first.request_hash !== hash) {
      throw new GatewayError(
        422,
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        'this Idempotency-Key was used with another request: send a new key for a new request',
      );
    }
    // A claim left in progress by a process that stopped mid-request, or a first request that
    // failed where the vendor may have acted: the ledger may by now say what became of it.
    const stale =
      first.state === 'in_progress' && first.created_at.getTime() + IDEMPOTENCY_STALE_MS <= now;
    const mayHaveActed =
      first.state === 'refused' &&
      (first.outcome?.kind === 'upstream' || first.outcome?.kind === 'answer');
    if (stale || mayHaveActed) {
      const proved = await this.proof(first.request_id);
      const where = `WHERE subject = $1 AND idem_key = $2 AND state = $3 AND request_id = $4`;
      const row = [subject, key, first.state, first.request_id];
      if (proved.kind === 'issued') {
        await this.database.query(
          `UPDATE idempotency_keys SET state = 'completed', outcome = $5 ${where}`,
          [...row, JSON.stringify(proved.outcome)],
        );
        throw replay(proved.outcome, first.request_id);
      }
      if (proved.kind === 'nothing') {
        await this.database.query(`DELETE FROM idempotency_keys ${where}`, row);
        if (!retried) return this.claim(subject, key, route, request, requestId, true);
      }
    }
    if (first.state === 'in_progress' || !first.outcome) throw inProgress();
    throw replay(first.outcome, first.request_id);
  }

  /**
   * What the ledger proves about the request that holds a key: `issued` (its succeeded record: the
   * credential exists or was regenerated), `nothing` (it never reached the vendor, the vendor
   * refused it, or lost answers / crash recovery found nothing or revoked what they found), or
   * `unknown` (the vendor may have acted and nothing settled it yet, or it was settled without
   * proof: ADMIN_MUST_CHECK). Only `nothing` lets a retry run again.
   */
  private async proof(
    requestId: string,
  ): Promise<{ kind: 'issued'; outcome: Outcome } | { kind: 'nothing' | 'unknown' }> {
    const records = await this.audit.recordsOf(requestId);
    const succeeded = records.find((r) => r.phase === 'succeeded');
    if (succeeded) {
      const id = succeeded.target.credential_id;
      return {
        kind: 'issued',
        outcome: {
          kind: 'completed',
          status: succeeded.vendor?.status ?? 200,
          ...(id !== undefined && { credential_id: id }),
        },
      };
    }
    if (openQuestion(records)) return { kind: 'unknown' };
    const settled = records.filter(isSettlement).pop();
    return settled?.note?.includes(ADMIN_MUST_CHECK) ? { kind: 'unknown' } : { kind: 'nothing' };
  }

  private held(subject: string, key: string): IdempotencyClaim {
    const settle = (state: 'completed' | 'refused', outcome: Outcome) =>
      this.database.query(
        `UPDATE idempotency_keys SET state = $3, outcome = $4
         WHERE subject = $1 AND idem_key = $2 AND state = 'in_progress'`,
        [subject, key, state, JSON.stringify(outcome)],
      );
    return {
      completed: async (answer, credentialId) => {
        await settle('completed', {
          kind: 'completed',
          status: answer.status,
          ...(credentialId !== undefined && { credential_id: credentialId }),
        });
      },
      refused: async (outcome) => {
        await settle('refused', outcomeOf(outcome));
      },
      release: async () => {
        await this.database.query(
          `DELETE FROM idempotency_keys
           WHERE subject = $1 AND idem_key = $2 AND state = 'in_progress'`,
          [subject, key],
        );
      },
    };
  }

  /** Expired keys go, at most once a minute per instance. */
  private async sweep(now: number): Promise<void> {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    await this.database.query('DELETE FROM idempotency_keys WHERE expires_at <= $1', [
      new Date(now),
    ]);
  }
}

const inProgress = () =>
  new GatewayError(
    409,
    ErrorCode.IDEMPOTENCY_IN_PROGRESS,
    'the first request with this Idempotency-Key is still being handled: ask again shortly',
  );

/** What is kept of a refusal or a failure: never a secret (Keygate's errors carry none). */
function outcomeOf(outcome: unknown): Outcome {
  if (outcome instanceof GatewayError) {
    return {
      kind: 'error',
      status: outcome.status,
      code: outcome.code,
      message: outcome.message,
      details: { ...outcome.details },
      extra: { ...outcome.extra },
    };
  }
  if (outcome instanceof UpstreamError) {
    return {
      kind: 'upstream',
      vendor: outcome.vendor,
      operation: outcome.operation,
      failure: outcome.failure,
      message: outcome.message,
      ...(outcome.vendorStatus !== undefined && { vendor_status: outcome.vendorStatus }),
    };
  }
  const answer = outcome as VendorResponse | undefined;
  if (answer && typeof answer.status === 'number') {
    return { kind: 'answer', status: answer.status, body: answer.body };
  }
  return {
    kind: 'error',
    status: 500,
    code: ErrorCode.INTERNAL,
    message: 'internal error',
    details: {},
    extra: {},
  };
}

/** A vendor answer replayed to a retry (a 5xx the first request got): thrown, then answered. */
export class ReplayedAnswer extends Error {
  constructor(readonly answer: VendorResponse) {
    super(`replayed: the vendor answered ${answer.status}`);
  }
}

/** The first request's outcome, as the retry's answer (thrown). */
function replay(outcome: Outcome, requestId: string): Error {
  const marked = { idempotent_replay: true, first_request_id: requestId };
  switch (outcome.kind) {
    case 'completed':
      return new GatewayError(
        409,
        ErrorCode.IDEMPOTENT_REPLAY,
        'this Idempotency-Key’s request already succeeded: the credential exists; its secret was shown once, in that answer, and Keygate does not keep it',
        {},
        {
          ...marked,
          ...(outcome.credential_id !== undefined && { credential_id: outcome.credential_id }),
          vendor_status: outcome.status,
          secret_shown_once: true,
        },
      );
    case 'error':
      return new GatewayError(outcome.status, outcome.code, outcome.message, outcome.details, {
        ...outcome.extra,
        ...marked,
      });
    case 'upstream':
      return new UpstreamError(
        outcome.vendor,
        outcome.operation,
        outcome.failure,
        outcome.message,
        outcome.vendor_status,
      );
    case 'answer':
      return new ReplayedAnswer({ status: outcome.status, body: outcome.body });
  }
}
