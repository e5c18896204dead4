import { Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { QwietClient, VendorResponse } from '@app/upstream';
import { TeamScopeService } from '../access/team-scope.service';
import type { CreateTokenRequestDto } from './dto/create-token.request.dto';
import type { ListTokensQueryDto } from './dto/list-tokens.query.dto';

/** The Qwiet side of Keygate: who may use which org, then the vendor call. */
@Injectable()
export class QwietService {
  constructor(
    private readonly client: QwietClient,
    private readonly scope: TeamScopeService,
  ) {}

  listRoles(caller: Caller, orgId: string): Promise<VendorResponse> {
    this.scope.assertQwietOrg(caller, orgId);
    return this.client.listRoles(orgId.toLowerCase());
  }

  listTokens(caller: Caller, orgId: string, query: ListTokensQueryDto): Promise<VendorResponse> {
    this.scope.assertQwietOrg(caller, orgId);
    return this.client.listTokens(orgId.toLowerCase(), { ...query });
  }

  issueToken(caller: Caller, orgId: string, body: CreateTokenRequestDto): Promise<VendorResponse> {
    this.scope.assertQwietOrg(caller, orgId);
    return this.client.createToken(orgId.toLowerCase(), { ...body });
  }

  revokeToken(caller: Caller, orgId: string, tokenId: string): Promise<VendorResponse> {
    this.scope.assertQwietOrg(caller, orgId);
    return this.client.deleteToken(orgId.toLowerCase(), tokenId.toLowerCase());
  }
}
