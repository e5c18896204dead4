import { Injectable } from '@nestjs/common';
import { Caller, isAdmin } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { QwietClient, VendorResponse } from '@app/upstream';
import { AuditedCall } from '../audit/audited-call';
import { issuanceMarker } from '../audit/credential-reconciler';
import type { RequestMeta } from '../audit/request-meta';
import { OwnCredentials } from '../common/own-credentials';
import type { GatewayAnswer } from '../common/vendor-reply';
import { CredentialOwners } from '../policy/credential-owners';
import { PolicyEnforcer } from '../policy/policy.enforcer';
import type { CreateTokenRequestDto } from './dto/create-token.request.dto';
import type { ListTokensQueryDto } from './dto/list-tokens.query.dto';

interface CreatedToken {
  id?: string;
  value?: string;
  expires_at?: string;
}

const created = (answer: VendorResponse): CreatedToken =>
  (answer.body as { response?: CreatedToken }).response ?? {};

/** The Qwiet side of Keygate: policy first, every change audited, then the vendor call. */
@Injectable()
export class QwietService {
  constructor(
    private readonly client: QwietClient,
    private readonly policy: PolicyEnforcer,
    private readonly audited: AuditedCall,
    private readonly owners: CredentialOwners,
    private readonly own: OwnCredentials,
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
    if (isAdmin(caller)) return { answer };
    const own = this.own.qwietTokenId(org);
    return { answer: { ...answer, body: OwnCredentials.withoutOwn(answer.body, 'response', own) } };
  }

  issueToken(
    caller: Caller,
    meta: RequestMeta,
    orgId: string,
    body: CreateTokenRequestDto,
  ): Promise<GatewayAnswer> {
    const org = this.served(orgId);
    return this.audited.run(
      {
        caller,
        meta,
        event: 'qwiet.token.issue',
        target: {
          vendor: 'qwiet',
          org_id: org,
          label: body.label,
          role_ids: [body.role_id.toLowerCase()],
          token_type: body.token_type ?? 'integration',
          lifetime_requested: body.valid_for_seconds ?? null,
        },
        policy: { action: 'qwiet.token.issue', orgId: org, token: body, forTeam: meta.forTeam },
      },
      {
        send: ({ decision, requestId }) => {
          const lifetime = decision.effective.valid_for_seconds ?? body.valid_for_seconds;
          // The marker proves, should the answer be lost, which token this request created.
          const marker = issuanceMarker(requestId);
          return this.client.createToken(org, {
            ...body,
            description: body.description ? `${body.description} ${marker}` : marker,
            ...(lifetime !== undefined && { valid_for_seconds: lifetime }),
          });
        },
        settle: (answer) => {
          const token = created(answer);
          return {
            credentialId: token.id,
            secret: token.value,
            target: { expires_at: token.expires_at ?? null },
          };
        },
        compensate: (settled) => this.client.deleteToken(org, settled.credentialId as string),
      },
    );
  }

  revokeToken(
    caller: Caller,
    meta: RequestMeta,
    orgId: string,
    tokenId: string,
  ): Promise<GatewayAnswer> {
    const org = this.served(orgId);
    const id = tokenId.toLowerCase();
    const ownerTeam = this.owners.ownerOf('qwiet', org, id);
    return this.audited.run(
      {
        caller,
        meta,
        event: 'qwiet.token.revoke',
        target: { vendor: 'qwiet', org_id: org, credential_id: id },
        policy: { action: 'qwiet.token.revoke', orgId: org, tokenId: id, ownerTeam },
        protectedCredential: this.own.qwietToken(org, id, ownerTeam !== undefined),
      },
      { send: () => this.client.deleteToken(org, id) },
    );
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
