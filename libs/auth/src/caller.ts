export const GatewayRole = {
  ADMIN: 'keygate:admin',
  AUDITOR: 'keygate:auditor',
  /** The security team that owns the policy: sees every team's section of it. */
  SECURITY: 'keygate:security',
  /** A Prometheus scraper: /metrics and nothing else. */
  METRICS: 'keygate:metrics',
} as const;
export type GatewayRole = (typeof GatewayRole)[keyof typeof GatewayRole];

/** Who is calling, from their verified company JWT. */
export interface Caller {
  subject: string;
  team: string;
  roles: readonly string[];
}

export const isAdmin = (caller: Caller): boolean => caller.roles.includes(GatewayRole.ADMIN);
