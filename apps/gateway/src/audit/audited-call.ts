import { Injectable, Logger } from '@nestjs/common';
import { CREATING_EVENTS, SECRET_ISSUING_EVENTS } from '@app/audit';
import type { AuditDecision, AuditEntry, AuditEvent, AuditPhase, AuditTarget } from '@app/audit';
import type { Caller } from '@app/auth';
import { GatewayError } from '@app/common';
import type { Decision, PolicyRequest } from '@app/policy';
import { UpstreamError, VendorResponse } from '@app/upstream';
import type { GatewayAnswer } from '../common/vendor-reply';
import { PolicyEnforcer, policyViolation } from '../policy/policy.enforcer';
import { IssuanceCounter } from '../limits/issuance-counter';
import { CredentialOwners } from '../policy/credential-owners';
import { AuditService } from './audit.service';
import { CredentialReconciler } from './credential-reconciler';
import type { RequestMeta } from './request-meta';

export interface AuditedRequest {
  caller: Caller;
  meta: RequestMeta;
  event: AuditEvent;
  target: AuditTarget;
  policy: PolicyRequest;
}

/** What a successful vendor answer tells the audit log. */
export interface Settled {
  credentialId?: string;
  /** The issued secret, fingerprinted, never written. */
  secret?: string;
  target?: Partial<AuditTarget>;
}

export interface AuditedSteps {
  send: (decision: Decision) => Promise<VendorResponse>;
  settle?: (answer: VendorResponse) => Settled;
  /** Undoes a success the log cannot show (revokes what was issued). */
  compensate?: (settled: Settled) => Promise<unknown>;
}

const LOST_ANSWER_TRIES = 6;

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

/**
 * The request path of every issuance, regeneration and revocation: decide, record the attempt
 * (durable before the vendor is called), call the vendor, record the outcome (durable before the
 * caller is answered). A success the log cannot record is undone at the vendor and answered 503.
 */
@Injectable()
export class AuditedCall {
  private readonly logger = new Logger('Audit');

  constructor(
    private readonly policy: PolicyEnforcer,
    private readonly audit: AuditService,
    private readonly reconciler: CredentialReconciler,
    private readonly owners: CredentialOwners,
    private readonly counter: IssuanceCounter,
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
    const usage = issuing ? this.counter.usage(req.caller) : undefined;
    const decision = this.policy.decide(
      req.caller,
      (usage ? { ...req.policy, usage } : req.policy) as PolicyRequest,
    );
    const effective = decision.effective.valid_for_seconds ?? decision.effective.expiration;
    const base = {
      request_id: req.meta.requestId,
      event: req.event,
      actor: {
        subject: req.caller.subject,
        team: req.caller.team,
        ip: req.meta.ip,
        user_agent: req.meta.userAgent,
      },
      target: { ...req.target, ...(effective !== undefined && { lifetime_effective: effective }) },
      decision: auditDecision(decision),
    };
    const entry = (phase: AuditPhase, extra: Partial<AuditEntry> = {}): AuditEntry => ({
      ...base,
      phase,
      ...extra,
    });

    if (!decision.allowed) {
      await this.audit.write([entry('attempt'), entry('denied')]);
      throw policyViolation(decision, this.retryAfter(req.caller));
    }
    const release = issuing ? once(this.counter.reserve(req.caller)) : () => undefined;
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
    const attempt = entry('attempt');
    await this.audit.write([attempt]);

    const started = process.hrtime.bigint();
    const latency = () => Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
    let answer: VendorResponse;
    try {
      answer = await steps.send(decision);
    } catch (error) {
      const code =
        error instanceof UpstreamError
          ? `${error.failure}`
          : error instanceof GatewayError
            ? error.code
            : 'internal';
      await this.audit.write([entry('failed', { vendor: { latency_ms: latency(), error: code } })]);
      // Lost answers are possible only when the request may have reached the vendor.
      if (
        error instanceof UpstreamError &&
        !['credentials_rejected', 'circuit_open'].includes(error.failure)
      ) {
        await this.findLost(attempt);
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
      if (ok && steps.compensate) await this.compensate(outcome, settled, steps.compensate);
      throw error;
    }
    if (answer.status >= 500) await this.findLost(attempt);
    return { answer, decision };
  }

  /**
   * A vendor that failed or broke the connection may still have issued the credential (the answer
   * was lost). Look for it and revoke it: no credential may exist that the log does not show.
   */
  private async findLost(attempt: AuditEntry, tries = 1): Promise<void> {
    if (!CREATING_EVENTS.has(attempt.event)) return;
    const scope = attempt.target.org_id ?? attempt.target.shared_space_id ?? '';
    const recorded = (id: string) =>
      this.owners.ownerOf(attempt.target.vendor, scope, id) !== undefined;
    try {
      await this.audit.write([await this.reconciler.reconcile(attempt, recorded, 'lost answer')]);
    } catch (error) {
      const again = tries < LOST_ANSWER_TRIES;
      this.logger.warn(
        {
          request_id: attempt.request_id,
          event: attempt.event,
          tries,
          error: (error as Error).message,
        },
        again
          ? 'could not yet check the vendor for a credential issued with a lost answer; asking again'
          : 'gave up checking the vendor for a lost answer; the next start asks again',
      );
      // Asked again in the background, with backoff; the next start-up asks too (AuditRecovery).
      if (again)
        setTimeout(() => void this.findLost(attempt, tries + 1), 1000 * 2 ** tries).unref();
    }
  }

  private async compensate(
    outcome: AuditEntry,
    settled: Settled,
    undo: (s: Settled) => Promise<unknown>,
  ): Promise<void> {
    try {
      await undo(settled);
      await this.audit.write([
        {
          ...outcome,
          phase: 'compensated',
          note: 'the outcome could not be recorded: Keygate revoked the credential',
        },
      ]);
    } catch {
      this.logger.error(
        {
          request_id: outcome.request_id,
          event: outcome.event,
          credential_id: settled.credentialId,
        },
        'compensation incomplete: check the vendor for this credential',
      );
    }
  }
}
