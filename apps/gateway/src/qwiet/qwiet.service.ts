import { Inject, Injectable } from '@nestjs/common';
import { Caller, isAdmin } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import type { Database } from '@app/ledger';
import { QwietClient } from '@app/upstream';
import type { RequestMeta } from '../audit/request-meta';
import { teamCredentialIds } from '../credentials/inventory';
import { qwietListForTeam } from '../credentials/team-lists';
import { DATABASE } from '../database/database.tokens';
import type { GatewayAnswer } from '../common/vendor-reply';
import { IssuancePipeline } from '../issuance/issuance.pipeline';
import { PolicyEnforcer } from '../policy/policy.enforcer';
import type { CreateTokenRequestDto } from './dto/create-token.request.dto';
import type { ListTokensQueryDto } from './dto/list-tokens.query.dto';
import { QwietTokenOperations } from './qwiet-token.operations';

/** The Qwiet side of Keygate: reads checked for scope; every change through the issuance pipeline. */
@Injectable()
export class QwietService {
  constructor(
    private readonly client: QwietClient,
    private readonly policy: PolicyEnforcer,
    private readonly pipeline: IssuancePipeline,
    private readonly ops: QwietTokenOperations,
    @Inject(DATABASE) private readonly database: Database,
  ) {}

  async listRoles(caller: Caller, orgId: string): Promise<GatewayAnswer> {
    return { answer: await this.client.listRoles(this.readable(caller, orgId)) };
  }

  async listTokens(
    caller: Caller,
    orgId: string,
    query: ListTokensQueryDto,
  ): Promise<GatewayAnswer> {
    const org = this.readable(caller, orgId);
    const answer = await this.client.listTokens(org, { ...query });
    if (isAdmin(caller) || answer.status !== 200) return { answer };
    // A member sees only the tokens their team owns in the inventory: never Keygate's own token,
    // another team's, or one Keygate did not issue.
    const owned = await teamCredentialIds(this.database, 'qwiet', org, caller.team);
    return { answer: { ...answer, body: qwietListForTeam(answer.body, owned) } };
  }

  issueToken(
    caller: Caller,
    meta: RequestMeta,
    orgId: string,
    body: CreateTokenRequestDto,
  ): Promise<GatewayAnswer> {
    return this.pipeline.run(this.ops.issue, { org: this.served(orgId), body }, caller, meta);
  }

  revokeToken(
    caller: Caller,
    meta: RequestMeta,
    orgId: string,
    tokenId: string,
  ): Promise<GatewayAnswer> {
    const input = { org: this.served(orgId), id: tokenId.toLowerCase() };
    return this.pipeline.run(this.ops.revoke, input, caller, meta);
  }

  /** Scope check for reads, then the org Keygate must hold a token for. */
  private readable(caller: Caller, orgId: string): string {
    const org = orgId.toLowerCase();
    this.policy.enforce(caller, { action: 'qwiet.read', orgId: org });
    return this.served(org);
  }

  private served(orgId: string): string {
    const org = orgId.toLowerCase();
    if (!this.client.servesOrg(org)) {
      throw new GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        `Keygate holds no credential for Qwiet org ${org}`,
      );
    }
    return org;
  }
}
