import { Caller, GatewayRole } from '@app/auth';

/**
 * keygate:security (owns the policy) and keygate:admin see every team's section of the policy and
 * may explain decisions for any team; any other caller sees only its own team's.
 */
export const seesWholePolicy = (caller: Caller): boolean =>
  caller.roles.some((r) => r === GatewayRole.SECURITY || r === GatewayRole.ADMIN);
