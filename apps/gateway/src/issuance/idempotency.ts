import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { AuditTarget } from '@app/audit';
import { ErrorCode, GatewayError, SETTLING_NOTE } from '@app/common';
import type { Database } from '@app/ledger';
import { UpstreamError } from '@app/upstream';
import type { VendorResponse } from '@app/upstream';
import { CLOCK, Clock } from '../common/clock';
import { DATABASE } from '../database/database.tokens';
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
   * again until the ledger settles it (see afterLostAnswer).
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
    if (first.state === 'in_progress' && first.created_at.getTime() + IDEMPOTENCY_STALE_MS <= now) {
      const issued = await this.leftBehind(subject, key, first.request_id);
      if (issued) throw replay(issued, first.request_id);
      if (!retried) return this.claim(subject, key, route, request, requestId, true);
    }
    if (first.state === 'in_progress' || !first.outcome) throw inProgress();
    if (first.outcome.kind === 'upstream' || first.outcome.kind === 'answer') {
      const proved = await this.afterLostAnswer(subject, key, first.request_id);
      if (proved === 'released' && !retried)
        return this.claim(subject, key, route, request, requestId, true);
      if (proved !== undefined && proved !== 'released') throw replay(proved, first.request_id);
    }
    throw replay(first.outcome, first.request_id);
  }

  /**
   * A first request that failed where the vendor may have acted (a timeout, a broken connection,
   * a 5xx) is settled later in the ledger, by lost answers or crash recovery. Once it is, a retry
   * gets what that proved: the credential exists -> completed (IDEMPOTENT_REPLAY with its id);
   * nothing was issued, or Keygate revoked what it found -> 'released', and the retry runs. Not
   * settled yet, or settled without proof (ADMIN_MUST_CHECK): undefined (the first answer again).
   */
  private async afterLostAnswer(
    subject: string,
    key: string,
    requestId: string,
  ): Promise<Outcome | 'released' | undefined> {
    const { rows } = await this.database.query<{
      phase: string;
      credential_id: string | null;
      note: string;
    }>(
      `SELECT phase, target ->> 'credential_id' AS credential_id, note FROM ledger_records
       WHERE request_id = $1 AND note ~ $2 ORDER BY seq DESC LIMIT 1`,
      [requestId, SETTLING_NOTE],
    );
    // Unsettled, or settled without proof either way (a credential of it may exist).
    if (rows.length === 0 || rows[0].note.includes(ADMIN_MUST_CHECK)) return undefined;
    const where = `WHERE subject = $1 AND idem_key = $2 AND state = 'refused' AND request_id = $3`;
    if (rows[0].phase !== 'succeeded') {
      await this.database.query(`DELETE FROM idempotency_keys ${where}`, [subject, key, requestId]);
      return 'released';
    }
    const outcome: Outcome = {
      kind: 'completed',
      status: 200,
      ...(rows[0].credential_id !== null && { credential_id: rows[0].credential_id }),
    };
    await this.database.query(
      `UPDATE idempotency_keys SET state = 'completed', outcome = $4 ${where}`,
      [subject, key, requestId, JSON.stringify(outcome)],
    );
    return outcome;
  }

  /**
   * A claim its process left in progress: completed if the ledger shows its request succeeded
   * (the credential exists; crash recovery settled it), else released (nothing was issued and
   * handed out: an unrecorded credential is revoked by crash recovery), so the caller's retry runs.
   */
  private async leftBehind(
    subject: string,
    key: string,
    requestId: string,
  ): Promise<Outcome | undefined> {
    const { rows } = await this.database.query<{
      credential_id: string | null;
      status: string | null;
    }>(
      `SELECT target ->> 'credential_id' AS credential_id, vendor ->> 'status' AS status
       FROM ledger_records WHERE request_id = $1 AND phase = 'succeeded' ORDER BY seq LIMIT 1`,
      [requestId],
    );
    const where = `WHERE subject = $1 AND idem_key = $2 AND state = 'in_progress' AND request_id = $3`;
    if (rows.length === 0) {
      await this.database.query(`DELETE FROM idempotency_keys ${where}`, [subject, key, requestId]);
      return undefined;
    }
    const outcome: Outcome = {
      kind: 'completed',
      status: Number(rows[0].status ?? 200),
      ...(rows[0].credential_id !== null && { credential_id: rows[0].credential_id }),
    };
    await this.database.query(
      `UPDATE idempotency_keys SET state = 'completed', outcome = $4 ${where}`,
      [subject, key, requestId, JSON.stringify(outcome)],
    );
    return outcome;
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
