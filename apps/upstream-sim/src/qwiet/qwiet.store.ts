import { isUuid } from './qwiet.validation';
import type { SimClock } from '../clock';
import { qwietTokenValue, uuid } from '../ids';
import {
  QWIET_ROLES,
  QwietRole,
  SERVICE_ACCOUNT_ROLE_ID,
  SUPER_ADMIN_ROLE_ID,
} from './qwiet.fixtures';

export type TokenType = 'access' | 'integration';

export interface QwietOrgConfig {
  id: string;
  /** Integration token with the Super Admin role: what the gateway holds for this org. */
  adminToken: string;
  /** Integration token with the Service Account role (may only create CI tokens). */
  serviceToken?: string;
}

export interface QwietToken {
  id: string;
  orgId: string;
  label: string;
  description?: string;
  roleId: string;
  tokenType: TokenType;
  validForSeconds?: number;
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
  /** Tokens the simulator was started with, as opposed to ones issued through the API. */
  seeded: boolean;
}

export interface NewTokenInput {
  label: string;
  description?: string;
  role_id: string;
  token_type: TokenType;
  valid_for_seconds?: number;
}

export class QwietStore {
  private readonly tokens = new Map<string, QwietToken>();
  private readonly byOrg = new Map<string, Map<string, QwietToken>>();
  private readonly byValue = new Map<string, string>();

  constructor(
    private readonly clock: SimClock,
    private readonly orgs: readonly QwietOrgConfig[],
  ) {
    this.reset();
  }

  reset(): void {
    this.tokens.clear();
    this.byOrg.clear();
    this.byValue.clear();
    for (const org of this.orgs) {
      this.seed(org.id, org.adminToken, SUPER_ADMIN_ROLE_ID, 'Keygate gateway');
      if (org.serviceToken) {
        this.seed(org.id, org.serviceToken, SERVICE_ACCOUNT_ROLE_ID, 'Service account');
      }
    }
  }

  hasOrg(orgId: string): boolean {
    return this.orgs.some((o) => o.id === orgId);
  }

  role(id: string): QwietRole | undefined {
    return QWIET_ROLES.find((r) => r.id === id);
  }

  /** The live token behind a bearer value: not revoked, not expired. */
  authenticate(value: string): QwietToken | undefined {
    const id = this.byValue.get(value);
    const token = id === undefined ? undefined : this.tokens.get(id);
    if (!token || token.revokedAt !== undefined || this.isExpired(token)) return undefined;
    return token;
  }

  /** Scopes a token holds: its role's, and none of the API scopes for `access` tokens. */
  scopesOf(token: QwietToken): string[] {
    const scopes = this.role(token.roleId)?.scopes ?? [];
    if (token.tokenType === 'integration' || token.roleId === SERVICE_ACCOUNT_ROLE_ID)
      return scopes;
    return scopes.filter((s) => !s.startsWith('tokens:') && !s.startsWith('roles:'));
  }

  list(orgId: string, filter: { showExpired: boolean; tokenType?: TokenType }): QwietToken[] {
    return [...(this.byOrg.get(orgId)?.values() ?? [])].filter(
      (t) =>
        t.revokedAt === undefined &&
        (filter.showExpired || !this.isExpired(t)) &&
        (filter.tokenType === undefined || t.tokenType === filter.tokenType),
    );
  }

  create(orgId: string, input: NewTokenInput): { token: QwietToken; value: string } {
    const now = this.clock.now();
    const token: QwietToken = {
      id: uuid(),
      orgId,
      label: input.label,
      description: input.description,
      roleId: input.role_id,
      tokenType: input.token_type,
      validForSeconds: input.valid_for_seconds,
      createdAt: now,
      expiresAt:
        input.valid_for_seconds === undefined ? undefined : now + input.valid_for_seconds * 1000,
      seeded: false,
    };
    const value = qwietTokenValue({ jti: token.id, org: orgId, iat: Math.floor(now / 1000) });
    this.insert(token, value);
    return { token, value };
  }

  /** Revokes a live token of the org; false when there is none with that id. */
  delete(orgId: string, id: string): boolean {
    const token = this.tokens.get(id);
    if (!token || token.orgId !== orgId || token.revokedAt !== undefined) return false;
    token.revokedAt = this.clock.now();
    return true;
  }

  all(): QwietToken[] {
    return [...this.tokens.values()];
  }

  isExpired(token: QwietToken): boolean {
    return token.expiresAt !== undefined && token.expiresAt <= this.clock.now();
  }

  private seed(orgId: string, value: string, roleId: string, label: string): void {
    const token: QwietToken = {
      id: jtiOf(value) ?? uuid(),
      orgId,
      label,
      roleId,
      tokenType: 'integration',
      createdAt: this.clock.now(),
      seeded: true,
    };
    this.insert(token, value);
  }

  private insert(token: QwietToken, value: string): void {
    this.tokens.set(token.id, token);
    this.byValue.set(value, token.id);
    let org = this.byOrg.get(token.orgId);
    if (!org) this.byOrg.set(token.orgId, (org = new Map()));
    org.set(token.id, token);
  }
}

/** The token as Qwiet's list and create endpoints describe it (never the value). */
export function tokenView(token: QwietToken): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: token.id,
    label: token.label,
    role_id: token.roleId,
    token_type: token.tokenType,
  };
  if (token.description !== undefined) view.description = token.description;
  if (token.validForSeconds !== undefined) view.valid_for_seconds = token.validForSeconds;
  if (token.expiresAt !== undefined) view.expires_at = new Date(token.expiresAt).toISOString();
  return view;
}

/** The token id a token value carries in its `jti` claim (the simulator's tokens do), if any. */
function jtiOf(value: string): string | undefined {
  try {
    const claims = JSON.parse(Buffer.from(value.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof claims?.jti === 'string' && isUuid(claims.jti) ? claims.jti : undefined;
  } catch {
    return undefined;
  }
}
