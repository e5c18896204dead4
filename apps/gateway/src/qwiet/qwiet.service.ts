import { Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { QwietClient } from '@app/upstream';
import type { GatewayAnswer } from '../common/vendor-reply';
import { CredentialOwners } from '../policy/credential-owners';
import { PolicyEnforcer } from '../policy/policy.enforcer';
import type { CreateTokenRequestDto } from './dto/create-token.request.dto';
import type { ListTokensQueryDto } from './dto/list-tokens.query.dto';

/** The Qwiet side of Keygate: policy first, then the vendor call. */
@Injectable()
export class QwietService {
  constructor(
    private readonly client: QwietClient,
    private readonly policy: PolicyEnforcer,
    private readonly owners: CredentialOwners,
  ) {}

  async listRoles(caller: Caller, orgId: string): Promise<GatewayAnswer> {
    const org = this.served(caller, orgId);
    return { answer: await this.client.listRoles(org) };
  }

  async listTokens(
    caller: Caller,
    orgId: string,
    query: ListTokensQueryDto,
  ): Promise<GatewayAnswer> {
    const org = this.served(caller, orgId);
    return { answer: await this.client.listTokens(org, { ...query }) };
  }

  async issueToken(
    caller: Caller,
    orgId: string,
    body: CreateTokenRequestDto,
  ): Promise<GatewayAnswer> {
    const org = orgId.toLowerCase();
    const decision = this.policy.enforce(caller, {
      action: 'qwiet.token.issue',
      orgId: org,
      token: body,
    });
    this.assertServed(org);
    const lifetime = decision.effective.valid_for_seconds ?? body.valid_for_seconds;
    const answer = await this.client.createToken(org, {
      ...body,
      ...(lifetime !== undefined && { valid_for_seconds: lifetime }),
    });
    const id = (answer.body as { response?: { id?: unknown } }).response?.id;
    if (answer.status === 200 && typeof id === 'string')
      this.owners.record('qwiet', org, id, caller.team);
    return { answer, decision };
  }

  async revokeToken(caller: Caller, orgId: string, tokenId: string): Promise<GatewayAnswer> {
    const org = orgId.toLowerCase();
    const id = tokenId.toLowerCase();
    const ownerTeam = this.owners.ownerOf('qwiet', org, id);
    const decision = this.policy.enforce(caller, {
      action: 'qwiet.token.revoke',
      orgId: org,
      tokenId: id,
      ownerTeam,
    });
    this.assertServed(org);
    return { answer: await this.client.deleteToken(org, id), decision };
  }

  /** Scope check for reads, then the org Keygate must hold a token for. */
  private served(caller: Caller, orgId: string): string {
    const org = orgId.toLowerCase();
    this.policy.enforce(caller, { action: 'qwiet.read', orgId: org });
    this.assertServed(org);
    return org;
  }

  private assertServed(org: string): void {
    if (!this.client.servesOrg(org)) {
      throw new GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        `Keygate holds no credential for Qwiet org ${org}`,
      );
    }
  }
}
