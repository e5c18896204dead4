import { GatewayRole } from '@app/common';

/** The role names live in @app/common, which the policy engine may import without Nest. */
export { GatewayRole };

/** Who is calling, from their verified company JWT or their console session. */
export interface Caller {
  subject: string;
  team: string;
  roles: readonly string[];
  /** How the caller came in (set by the AuthGuard): a bearer JWT or the console's session cookie. */
  via?: CallerChannel;
}

export type CallerChannel = 'bearer' | 'session';

export const isAdmin = (caller: Caller): boolean => caller.roles.includes(GatewayRole.ADMIN);
