import { GatewayRole } from '@app/common';

/** The role names live in @app/common, which the policy engine may import without Nest. */
export { GatewayRole };

/** Who is calling, from their verified company JWT. */
export interface Caller {
  subject: string;
  team: string;
  roles: readonly string[];
}

export const isAdmin = (caller: Caller): boolean => caller.roles.includes(GatewayRole.ADMIN);
