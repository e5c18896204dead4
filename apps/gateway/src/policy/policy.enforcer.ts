import { Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { Decision, evaluate, Finding, PolicyRequest } from '@app/policy';
import { PolicyStore } from './policy.store';

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Applies the policy in force to a validated request: a denial is a 403 POLICY_VIOLATION naming each rule. */
@Injectable()
export class PolicyEnforcer {
  constructor(private readonly store: PolicyStore) {}

  decide(caller: Caller, request: PolicyRequest): Decision {
    return evaluate(this.store.policy, caller, request, new Date());
  }

  enforce(caller: Caller, request: PolicyRequest): Decision {
    const decision = this.decide(caller, request);
    if (!decision.allowed) throw policyViolation(decision);
    return decision;
  }
}

export function policyViolation(decision: Decision): GatewayError {
  const details = Object.fromEntries(
    decision.violations.map((v: Finding) => [
      v.rule,
      `${v.message} (limit: ${show(v.limit)}; sent: ${show(v.actual ?? null)})`,
    ]),
  );
  const rules = decision.violations.map((v) => v.rule);
  return new GatewayError(
    403,
    ErrorCode.POLICY_VIOLATION,
    `denied by policy: ${rules.join(', ')}`,
    details,
    {
      violations: decision.violations,
      policy_revision: decision.revision,
    },
  );
}
