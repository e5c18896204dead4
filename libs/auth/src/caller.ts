export const GatewayRole = {
  ADMIN: 'keygate:admin',
  AUDITOR: 'keygate:auditor',
} as const;
export type GatewayRole = (typeof GatewayRole)[keyof typeof GatewayRole];

/** Who is calling, from their verified company JWT. */
export interface Caller {
  subject: string;
  team: string;
  roles: readonly string[];
}

export const isAdmin = (caller: Caller): boolean => caller.roles.includes(GatewayRole.ADMIN);
