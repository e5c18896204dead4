import { Inject, Injectable } from '@nestjs/common';
import { Caller, isAdmin } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';

/** Which Qwiet orgs and Octane shared spaces a caller's team may use (admins: all configured). */
@Injectable()
export class TeamScopeService {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  assertQwietOrg(caller: Caller, orgId: string): void {
    const org = orgId.toLowerCase();
    const allowed = isAdmin(caller)
      ? Object.hasOwn(this.config.qwiet.orgTokens, org)
      : this.scope(caller).qwietOrgs.includes(org);
    if (!allowed) {
      throw new GatewayError(
        403,
        ErrorCode.TEAM_SCOPE_DENIED,
        `team ${caller.team} may not use Qwiet org ${org}`,
        { orgId: org },
      );
    }
  }

  assertOctaneSharedSpace(caller: Caller, spaceId: string): void {
    const allowed = isAdmin(caller)
      ? Object.hasOwn(this.config.octane.sharedSpaces, spaceId)
      : this.scope(caller).octaneSharedSpaces.includes(spaceId);
    if (!allowed) {
      throw new GatewayError(
        403,
        ErrorCode.TEAM_SCOPE_DENIED,
        `team ${caller.team} may not use shared space ${spaceId}`,
        { spaceId },
      );
    }
  }

  private scope(caller: Caller) {
    return this.config.teams[caller.team] ?? { qwietOrgs: [], octaneSharedSpaces: [] };
  }
}
