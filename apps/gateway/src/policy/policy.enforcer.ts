import { Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import {
  Decision,
  EffectiveRules,
  evaluate,
  Finding,
  owningTeam,
  PolicyRequest,
} from '@app/policy';
import { MetricsService } from '../metrics/metrics.service';
import { PolicyStore } from './policy.store';

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Applies the policy in force to a validated request: a denial is a 403 POLICY_VIOLATION naming each rule. */
@Injectable()
export class PolicyEnforcer {
  constructor(
    private readonly store: PolicyStore,
    private readonly metrics: MetricsService,
  ) {}

  decide(caller: Caller, request: PolicyRequest): Decision {
    const decision = evaluate(this.store.policy, caller, request, new Date());
    this.metrics.observeDecision(decision);
    return decision;
  }

  /** The team that owns what this request issues (see owningTeam in libs/policy). */
  owningTeam(caller: Caller, request: PolicyRequest): string {
    return owningTeam(this.store.policy, caller, request);
  }

  /** The effective rules of the caller's team. */
  rulesFor(caller: Caller): EffectiveRules {
    const policy = this.store.policy;
    return (policy.teams.get(caller.team) ?? policy.fallback).rules;
  }

  enforce(caller: Caller, request: PolicyRequest): Decision {
    const decision = this.decide(caller, request);
    if (!decision.allowed) throw policyViolation(decision);
    return decision;
  }
}

/** 403 POLICY_VIOLATION; 429 QUOTA_EXCEEDED (with the wait) when only quotas were broken. */
export function policyViolation(decision: Decision, retryAfterSeconds?: number): GatewayError {
  const details = Object.fromEntries(
    decision.violations.map((v: Finding) => [
      v.rule,
      `${v.message} (limit: ${show(v.limit)}; sent: ${show(v.actual ?? null)})`,
    ]),
  );
  const rules = decision.violations.map((v) => v.rule);
  const extra = { violations: decision.violations, policy_revision: decision.revision };
  if (rules.every((rule) => rule.startsWith('quota.'))) {
    return new GatewayError(
      429,
      ErrorCode.QUOTA_EXCEEDED,
      `issuance quota reached: ${rules.join(', ')}`,
      details,
      {
        ...extra,
        retry_after_seconds: retryAfterSeconds ?? 60,
      },
    );
  }
  return new GatewayError(
    403,
    ErrorCode.POLICY_VIOLATION,
    `denied by policy: ${rules.join(', ')}`,
    details,
    extra,
  );
}
