import { Injectable, Logger } from '@nestjs/common';
import { SECRET_ISSUING_EVENTS } from '@app/audit';
import type { AuditDecision, AuditEntry, AuditPhase } from '@app/audit';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import type { Decision, PolicyRequest } from '@app/policy';
import { UpstreamError, VendorResponse } from '@app/upstream';
import { AuditService } from '../audit/audit.service';
import { RequestMeta, requestEntry } from '../audit/request-meta';
import type { GatewayAnswer } from '../common/vendor-reply';
import { IssuanceCounter } from '../limits/issuance-counter';
import { CredentialOwners } from '../policy/credential-owners';
import { PolicyEnforcer, policyViolation } from '../policy/policy.enforcer';
import { IdempotencyClaim, IdempotencyKeys, ReplayedAnswer, routeOf } from './idempotency';
import { LostAnswers } from './lost-answers';
import { IssuanceOperation, Issued, VendorAnswered } from './operation';
import { RevocationVerifier, REVOCATION_HEADER } from './verification';

/** The refusal's rule id in the ledger when a request targets Keygate's own vendor credential. */
const PROTECTED = 'keygate.protected_credential';

const auditDecision = (d: Decision): AuditDecision => ({
  allowed: d.allowed,
  violations: d.violations.map((v) => v.rule),
  warnings: d.warnings.map((w) => w.rule),
  policy_revision: d.revision,
});

const correlationId = (body: unknown): string | undefined => {
  const id = (body as { correlation_id?: unknown } | null)?.correlation_id;
  return typeof id === 'string' ? id.slice(0, 64) : undefined;
};

/** A failure after which the vendor may have acted all the same (the answer was lost). */
const mayHaveActed = (error: unknown): boolean =>
  error instanceof UpstreamError &&
  !['credentials_rejected', 'circuit_open'].includes(error.failure);

const failureCode = (error: unknown): string =>
  error instanceof UpstreamError
    ? error.failure
    : error instanceof GatewayError
      ? error.code
      : 'internal';

/** How far a request got: what settles its Idempotency-Key when it ends. */
interface Progress {
  stage: 'deciding' | 'denied' | 'calling' | 'answered';
  credentialId?: string;
}

/**
 * THE request path of every issuance, regeneration and revocation, whatever the vendor:
 *
 *   [claim the Idempotency-Key] -> prepare (reads the action needs) -> decide (policy, quotas,
 *   Keygate's own credentials) -> record the attempt (durable before the vendor is called) -> call
 *   the vendor -> record the outcome (durable before the caller is answered) -> [check a revocation
 *   at the vendor (RevocationVerifier)] -> answer.
 *
 * A success whose outcome cannot be recorded is undone at the vendor (compensation) and answered
 * 503; an answer lost on the way back is looked for at the vendor (LostAnswers). What differs
 * between vendor actions lives in one operation object each (IssuanceOperation).
 */
@Injectable()
export class IssuancePipeline {
  constructor(
    private readonly policy: PolicyEnforcer,
    private readonly audit: AuditService,
    private readonly counter: IssuanceCounter,
    private readonly lost: LostAnswers,
    private readonly owners: CredentialOwners,
    private readonly verifier: RevocationVerifier,
    private readonly idempotency: IdempotencyKeys,
  ) {}

  private readonly logger = new Logger('IssuancePipeline');

  /**
   * One request. With an Idempotency-Key (creates and regenerations) the key is claimed first:
   * a retry gets the first request's outcome (IdempotencyKeys), and how this request ends settles
   * the key: issued -> completed; refused by Keygate -> the same answer to every retry; failed
   * where the vendor may have acted -> the same answer until the ledger settles what happened
   * (then as that proved); failed before the vendor acted -> released (a retry runs again).
   */
  async run<I>(
    op: IssuanceOperation<I>,
    given: I,
    caller: Caller,
    meta: RequestMeta,
  ): Promise<GatewayAnswer> {
    const key = SECRET_ISSUING_EVENTS.has(op.event)
      ? IdempotencyKeys.parse(meta.idempotencyKey)
      : undefined;
    const progress: Progress = { stage: 'deciding' };
    if (key === undefined) return this.once(op, given, caller, meta, progress);
    let claim: IdempotencyClaim;
    try {
      const route = routeOf(op.event, op.target(given));
      // The request: its parameters and body, and the team an admin issues for.
      const request = { input: given, for_team: meta.forTeam };
      claim = await this.idempotency.claim(caller.subject, key, route, request, meta.requestId);
    } catch (error) {
      if (error instanceof ReplayedAnswer) return { answer: error.answer };
      throw error;
    }
    let result: GatewayAnswer;
    try {
      result = await this.once(op, given, caller, meta, progress);
    } catch (error) {
      const keep =
        progress.stage === 'denied' ||
        progress.stage === 'answered' ||
        (progress.stage === 'calling' && mayHaveActed(error));
      await this.settle(meta, keep ? claim.refused(error) : claim.release());
      throw error;
    }
    const { status } = result.answer;
    await this.settle(
      meta,
      status >= 200 && status < 300
        ? claim.completed(result.answer, progress.credentialId)
        : status >= 500
          ? claim.refused(result.answer)
          : claim.release(),
    );
    return result;
  }

  /** A key that cannot be settled stays in progress (until it is stale): logged, never the answer. */
  private async settle(meta: RequestMeta, settling: Promise<void>): Promise<void> {
    try {
      await settling;
    } catch (error) {
      this.logger.error(
        { request_id: meta.requestId, error: (error as Error).message },
        'the Idempotency-Key could not be settled: it stays in progress until it is stale',
      );
    }
  }

  /** The request path itself, once (see the class's comment); `progress` says how far it got. */
  private async once<I>(
    op: IssuanceOperation<I>,
    given: I,
    caller: Caller,
    meta: RequestMeta,
    progress: Progress,
  ): Promise<GatewayAnswer> {
    const record =
      (input: I) =>
      (phase: AuditPhase, extra: Partial<AuditEntry> = {}) =>
        this.entry(op, input, caller, meta, phase, extra);

    // 1. Prepare: a read the decision needs. Its failure is recorded like any other.
    let input = given;
    if (op.prepare) {
      try {
        input = await op.prepare(given);
      } catch (error) {
        const entry = record(given);
        const answered = error instanceof VendorAnswered ? error.answer : undefined;
        await this.audit.write([
          entry('attempt'),
          entry('failed', {
            vendor: answered ? { status: answered.status } : { error: failureCode(error) },
            note: 'the look-up before the decision failed: nothing was changed',
          }),
        ]);
        if (answered) return { answer: answered };
        throw error;
      }
    }

    // 2. Decide: the owning team's quotas, the policy, Keygate's own credentials.
    const issuing = SECRET_ISSUING_EVENTS.has(op.event);
    await this.owners.resolve(op.target(input));
    const request = op.policy(input, meta);
    const counted = {
      ...caller,
      team: issuing ? this.policy.owningTeam(caller, request) : caller.team,
    };
    // The quota's place is counted and held (locked in the database) until allowed or refused:
    // only where a quota rule applies (the owning team's or, acting for it, the caller's own).
    const counting = issuing && (this.hasQuota(counted) || this.hasQuota(caller));
    const hold = counting ? await this.counter.hold(counted, meta.requestId) : undefined;
    let decision: Decision;
    try {
      decision = this.policy.decide(
        caller,
        (hold ? { ...request, usage: hold.usage } : request) as PolicyRequest,
      );
    } catch (error) {
      hold?.cancel();
      throw error;
    }
    // The lifetime sent: the clamp's, else (on every allowed issuance) the one requested; null: none.
    const requested =
      'token' in request
        ? request.token.valid_for_seconds
        : 'key' in request
          ? request.key.expiration
          : undefined;
    const effective =
      decision.effective.valid_for_seconds ??
      decision.effective.expiration ??
      (issuing && decision.allowed ? (requested ?? null) : undefined);
    // The secret the caller sent (never one Keygate would generate): fingerprinted in a denial too.
    const callers = op.secret?.(input, {
      ...decision,
      effective: { ...decision.effective, generate_secret: false },
    });
    const deniedFingerprint = callers && { fingerprint: this.audit.fingerprint(callers.value) };
    const base = record(input);
    const entry = (phase: AuditPhase, extra: Partial<AuditEntry> = {}): AuditEntry => {
      const e = base(phase, { decision: auditDecision(decision), ...extra });
      return {
        ...e,
        target: {
          ...e.target,
          ...(decision.team !== caller.team && { owner_team: decision.team }),
          ...(effective !== undefined && { lifetime_effective: effective }),
          ...extra.target,
        },
      };
    };
    if (op.isProtected?.(input) || !decision.allowed) hold?.cancel();
    if (op.isProtected?.(input)) {
      const refused = { ...auditDecision(decision), allowed: false, violations: [PROTECTED] };
      await this.audit.write([
        entry('attempt', { decision: refused, ...deniedFingerprint }),
        entry('denied', { decision: refused, ...deniedFingerprint }),
      ]);
      progress.stage = 'denied';
      throw new GatewayError(
        403,
        ErrorCode.PROTECTED_CREDENTIAL,
        'this is Keygate’s own vendor credential: it cannot be revoked or regenerated through Keygate',
      );
    }
    if (!decision.allowed) {
      await this.audit.write([
        entry('attempt', deniedFingerprint),
        entry('denied', deniedFingerprint),
      ]);
      progress.stage = 'denied';
      throw policyViolation(decision, this.retryAfter(counted));
    }

    // 3. Record the attempt: on disk before anything reaches the vendor.
    const release = hold ? once(await hold.reserve()) : () => undefined;
    try {
      const secret = op.secret?.(input, decision);
      const attempt = entry('attempt', {
        ...(secret && { fingerprint: this.audit.fingerprint(secret.value) }),
      });
      await this.audit.write([attempt]);

      // 4. Call the vendor.
      const started = process.hrtime.bigint();
      const latency = () => Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
      let answer: VendorResponse;
      progress.stage = 'calling';
      try {
        answer = await op.send(input, { decision, requestId: attempt.request_id, secret });
      } catch (error) {
        try {
          await this.audit.write([
            entry('failed', { vendor: { latency_ms: latency(), error: failureCode(error) } }),
          ]);
        } finally {
          // Asked in the background: the caller's error never waits on a struggling vendor.
          if (issuing && mayHaveActed(error)) void this.lost.settle(attempt, secret);
        }
        throw error;
      }

      // 5. Record the outcome: on disk before the caller is answered, or undone at the vendor.
      progress.stage = 'answered';
      const ok = answer.status >= 200 && answer.status < 300;
      if (!ok) release();
      const issued: Issued = ok && op.issued ? op.issued(input, answer, secret) : {};
      progress.credentialId = issued.credentialId;
      const outcome = entry(ok ? 'succeeded' : 'failed', {
        target: {
          ...attempt.target,
          ...issued.target,
          ...(issued.credentialId && { credential_id: issued.credentialId }),
        },
        vendor: {
          status: answer.status,
          latency_ms: latency(),
          correlation_id: correlationId(answer.body),
        },
        ...(issued.secret !== undefined && { fingerprint: this.audit.fingerprint(issued.secret) }),
      });
      try {
        await this.audit.write([outcome]);
      } catch (error) {
        if (ok && op.undo) await this.lost.compensate(outcome, () => op.undo!(input, issued));
        throw error;
      }
      if (issuing && answer.status >= 500) void this.lost.settle(attempt, secret);

      // 6. A revocation the vendor reported done: checked at the vendor (verified revocation);
      // the answer waits for the first check a short while at most, and says what it found.
      const verified =
        ok && op.verifyRevoked
          ? await this.verifier.afterRevocation(op, outcome.target, outcome.actor, meta.requestId)
          : undefined;

      // 7. Answer.
      const result: GatewayAnswer = {
        answer,
        decision,
        ...(verified && { headers: { [REVOCATION_HEADER]: verified } }),
      };
      return ok && op.answer ? op.answer(result, secret) : result;
    } catch (error) {
      release();
      throw error;
    }
  }

  /** A ledger entry of this request: who, what, when decided; the phase and what it adds. */
  private entry<I>(
    op: IssuanceOperation<I>,
    input: I,
    caller: Caller,
    meta: RequestMeta,
    phase: AuditPhase,
    extra: Partial<AuditEntry>,
  ): AuditEntry {
    return {
      ...requestEntry(caller, meta),
      event: op.event,
      target: op.target(input),
      phase,
      ...extra,
    };
  }

  /** Whether a quota rule (enforced or dry run) applies to this caller's team. */
  private hasQuota(caller: Caller): boolean {
    const quota = this.policy.rulesFor(caller).quota;
    return quota.team_per_hour !== undefined || quota.subject_per_hour !== undefined;
  }

  /** How long until the quotas in force for this caller have room again. */
  private retryAfter(caller: Caller): number {
    const quota = this.policy.rulesFor(caller).quota;
    return this.counter.retryAfterSeconds(
      caller,
      quota.team_per_hour?.max,
      quota.subject_per_hour?.max,
    );
  }
}

const once = (f: () => void): (() => void) => {
  let done = false;
  return () => {
    if (!done) f();
    done = true;
  };
};
