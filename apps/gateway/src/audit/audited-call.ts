import { Inject, Injectable } from '@nestjs/common';
import { SECRET_ISSUING_EVENTS } from '@app/audit';
import type { AuditDecision, AuditEntry, AuditEvent, AuditPhase, AuditTarget } from '@app/audit';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import type { Decision, PolicyRequest } from '@app/policy';
import { UpstreamError, VendorResponse } from '@app/upstream';
import type { GatewayAnswer } from '../common/vendor-reply';
import { PolicyEnforcer, policyViolation } from '../policy/policy.enforcer';
import { IssuanceCounter } from '../limits/issuance-counter';
import { AuditService } from './audit.service';
import { LostAnswers } from './lost-answers';
import type { RequestMeta } from './request-meta';

export interface AuditedRequest {
  caller: Caller;
  meta: RequestMeta;
  event: AuditEvent;
  target: AuditTarget;
  policy: PolicyRequest;
  /** The credential is Keygate's own vendor credential: refused, whoever asks (audited). */
  protectedCredential?: boolean;
}

/** What a successful vendor answer tells the audit log. */
export interface Settled {
  credentialId?: string;
  /** The issued secret, fingerprinted, never written. */
  secret?: string;
  target?: Partial<AuditTarget>;
}

/** What the vendor call of one request is made with, once the policy has decided. */
export interface VendorCallInput {
  decision: Decision;
  /** Keygate's own id of this request: the marker by which a lost answer is found at the vendor. */
  requestId: string;
  /** The secret this request sends, when it sends one (the caller's or one Keygate generated). */
  secret?: string;
}

export interface AuditedSteps {
  /**
   * The secret the vendor call will send, known before the attempt is recorded (its fingerprint
   * goes in the attempt, so that a lost answer can be settled). `generated`: Keygate made it up.
   */
  secret?: (decision: Decision) => { value: string; generated: boolean } | undefined;
  send: (call: VendorCallInput) => Promise<VendorResponse>;
  settle?: (answer: VendorResponse) => Settled;
  /** Undoes a success the log cannot show (revokes what was issued). */
  compensate?: (settled: Settled) => Promise<unknown>;
}

/** The refusal's rule id in the audit record. */
const PROTECTED = 'keygate.protected_credential';

const once = (f: () => void): (() => void) => {
  let done = false;
  return () => {
    if (!done) f();
    done = true;
  };
};

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

/** Failures after which the vendor may have acted all the same (the answer was lost). */
const mayHaveActed = (error: unknown): boolean =>
  error instanceof UpstreamError &&
  !['credentials_rejected', 'circuit_open'].includes(error.failure);

/**
 * The request path of every issuance, regeneration and revocation: decide, record the attempt
 * (durable before the vendor is called), call the vendor, record the outcome (durable before the
 * caller is answered). A success the log cannot record is undone at the vendor and answered 503;
 * an answer lost on the way back is looked for at the vendor (LostAnswers).
 */
@Injectable()
export class AuditedCall {
  constructor(
    private readonly policy: PolicyEnforcer,
    private readonly audit: AuditService,
    private readonly counter: IssuanceCounter,
    @Inject(LostAnswers) private readonly lost: LostAnswers,
  ) {}

  /** How long until the quotas in force for this caller have room again. */
  private retryAfter(caller: Caller): number {
    const quota = this.policy.rulesFor(caller).quota;
    return this.counter.retryAfterSeconds(
      caller,
      quota.team_per_hour?.max,
      quota.subject_per_hour?.max,
    );
  }

  async run(req: AuditedRequest, steps: AuditedSteps): Promise<GatewayAnswer> {
    const issuing = SECRET_ISSUING_EVENTS.has(req.event);
    // Quotas count what the owning team issued (an admin issuing for another team counts there).
    const owner = issuing ? this.policy.owningTeam(req.caller, req.policy) : req.caller.team;
    const counted = { ...req.caller, team: owner };
    const usage = issuing ? this.counter.usage(counted) : undefined;
    const decision = this.policy.decide(
      req.caller,
      (usage ? { ...req.policy, usage } : req.policy) as PolicyRequest,
    );
    const effective = decision.effective.valid_for_seconds ?? decision.effective.expiration;
    const base = {
      request_id: req.meta.requestId,
      ...(req.meta.callerRequestId !== undefined && {
        caller_request_id: req.meta.callerRequestId,
      }),
      event: req.event,
      actor: {
        subject: req.caller.subject,
        team: req.caller.team,
        ip: req.meta.ip,
        user_agent: req.meta.userAgent,
      },
      target: {
        ...req.target,
        ...(decision.team !== req.caller.team && { owner_team: decision.team }),
        ...(effective !== undefined && { lifetime_effective: effective }),
      },
      decision: auditDecision(decision),
    };
    const entry = (phase: AuditPhase, extra: Partial<AuditEntry> = {}): AuditEntry => ({
      ...base,
      phase,
      ...extra,
    });

    if (req.protectedCredential) {
      const refused = { ...base.decision, allowed: false, violations: [PROTECTED] };
      await this.audit.write([
        entry('attempt', { decision: refused }),
        entry('denied', { decision: refused }),
      ]);
      throw new GatewayError(
        403,
        ErrorCode.PROTECTED_CREDENTIAL,
        'this is Keygate’s own vendor credential: it cannot be revoked or regenerated through Keygate',
      );
    }
    if (!decision.allowed) {
      await this.audit.write([entry('attempt'), entry('denied')]);
      throw policyViolation(decision, this.retryAfter(counted));
    }
    const release = issuing ? once(this.counter.reserve(counted)) : () => undefined;
    try {
      return await this.proceed(steps, decision, entry, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Everything after an allowed decision: attempt, vendor call, outcome, and the checks for lost answers. */
  private async proceed(
    steps: AuditedSteps,
    decision: Decision,
    entry: (phase: AuditPhase, extra?: Partial<AuditEntry>) => AuditEntry,
    release: () => void,
  ): Promise<GatewayAnswer> {
    const secret = steps.secret?.(decision);
    const attempt = entry('attempt', {
      ...(secret && { fingerprint: this.audit.fingerprint(secret.value) }),
    });
    // Only issuances can leave a credential behind a lost answer.
    const issuing = SECRET_ISSUING_EVENTS.has(attempt.event);
    await this.audit.write([attempt]);

    const started = process.hrtime.bigint();
    const latency = () => Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
    let answer: VendorResponse;
    try {
      answer = await steps.send({ decision, requestId: attempt.request_id, secret: secret?.value });
    } catch (error) {
      const code =
        error instanceof UpstreamError
          ? `${error.failure}`
          : error instanceof GatewayError
            ? error.code
            : 'internal';
      try {
        await this.audit.write([
          entry('failed', { vendor: { latency_ms: latency(), error: code } }),
        ]);
      } finally {
        // Asked in the background: the caller's answer never waits on a struggling vendor.
        if (issuing && mayHaveActed(error)) void this.lost.settle(attempt, secret);
      }
      throw error;
    }

    const ok = answer.status >= 200 && answer.status < 300;
    if (!ok) release();
    const settled = ok && steps.settle ? steps.settle(answer) : {};
    const outcome = entry(ok ? 'succeeded' : 'failed', {
      target: {
        ...attempt.target,
        ...settled.target,
        ...(settled.credentialId && { credential_id: settled.credentialId }),
      },
      vendor: {
        status: answer.status,
        latency_ms: latency(),
        correlation_id: correlationId(answer.body),
      },
      ...(settled.secret !== undefined && { fingerprint: this.audit.fingerprint(settled.secret) }),
    });
    try {
      await this.audit.write([outcome]);
    } catch (error) {
      if (ok && steps.compensate) await this.lost.compensate(outcome, settled, steps.compensate);
      throw error;
    }
    if (issuing && answer.status >= 500) void this.lost.settle(attempt, secret);
    return { answer, decision };
  }
}
