import { Injectable } from '@nestjs/common';
import { QwietClient, VendorResponse } from '@app/upstream';
import { OwnCredentials } from '../common/own-credentials';
import type { IssuanceOperation, LostAnswerFinding } from '../issuance/operation';
import { Entity, listIn, conclusive } from '../issuance/vendor-answers';
import { CredentialOwners } from '../policy/credential-owners';
import type { CreateTokenRequestDto } from './dto/create-token.request.dto';

export interface IssueTokenInput {
  org: string;
  body: CreateTokenRequestDto;
}

export interface RevokeTokenInput {
  org: string;
  id: string;
}

/**
 * The mark Keygate puts at the end of the description of every Qwiet token it issues: its own id
 * of the request (unique, never the caller's), so that a token whose answer was lost is recognised
 * as this request's and no other.
 */
export const issuanceMarker = (requestId: string): string => `[keygate:${requestId}]`;

const created = (answer: VendorResponse): { id?: string; value?: string; expires_at?: string } =>
  (answer.body as { response?: { id?: string; value?: string; expires_at?: string } }).response ??
  {};

const settled = (
  phase: 'succeeded' | 'failed' | 'compensated',
  note: string,
  credentialId?: string,
): LostAnswerFinding => ({
  kind: 'settled',
  phase,
  note,
  ...(credentialId !== undefined && { extra: { target: { credential_id: credentialId } } }),
});

/** Qwiet API v4 tokens: issue and revoke, as the issuance pipeline drives them. */
@Injectable()
export class QwietTokenOperations {
  constructor(
    private readonly client: QwietClient,
    private readonly owners: CredentialOwners,
    private readonly own: OwnCredentials,
  ) {}

  private tokens = async (org: string): Promise<Entity[]> =>
    listIn(await this.client.listTokens(org, { show_expired: 'true' }), 'response');

  readonly issue: IssuanceOperation<IssueTokenInput> = {
    event: 'qwiet.token.issue',
    target: ({ org, body }) => ({
      vendor: 'qwiet',
      org_id: org,
      label: body.label,
      role_ids: [body.role_id.toLowerCase()],
      token_type: body.token_type ?? 'integration',
      lifetime_requested: body.valid_for_seconds ?? null,
    }),
    policy: ({ org, body }, meta) => ({
      action: 'qwiet.token.issue',
      orgId: org,
      token: body,
      forTeam: meta.forTeam,
    }),
    send: ({ org, body }, { decision, requestId }) => {
      const lifetime = decision.effective.valid_for_seconds ?? body.valid_for_seconds;
      // The marker proves, should the answer be lost, which token this request created.
      const marker = issuanceMarker(requestId);
      return this.client.createToken(org, {
        ...body,
        description: body.description ? `${body.description} ${marker}` : marker,
        ...(lifetime !== undefined && { valid_for_seconds: lifetime }),
      });
    },
    issued: (_input, answer) => {
      const token = created(answer);
      return {
        credentialId: token.id,
        secret: token.value,
        target: { expires_at: token.expires_at ?? null },
      };
    },
    undo: ({ org }, issued) => this.client.deleteToken(org, issued.credentialId as string),
    // Only a token carrying this request's marker is this request's: revoked, never a look-alike.
    findLost: async (attempt, ctx) => {
      const org = attempt.target.org_id ?? '';
      const marker = issuanceMarker(attempt.request_id);
      const mine = (await this.tokens(org)).filter(
        (t) =>
          !ctx.isRecorded(String(t.id)) &&
          typeof t.description === 'string' &&
          t.description.includes(marker),
      );
      if (mine.length === 0) {
        return ctx.final
          ? settled('failed', 'Qwiet shows no token with this request’s marker: none was issued')
          : { kind: 'pending' };
      }
      for (const t of mine) conclusive(await this.client.deleteToken(org, String(t.id)));
      return settled(
        'compensated',
        `issued (marker ${marker}) but never recorded nor handed out: revoked ${mine.map((t) => t.id).join(', ')}`,
        String(mine[0].id),
      );
    },
  };

  readonly revoke: IssuanceOperation<RevokeTokenInput> = {
    event: 'qwiet.token.revoke',
    target: ({ org, id }) => ({ vendor: 'qwiet', org_id: org, credential_id: id }),
    policy: ({ org, id }) => ({
      action: 'qwiet.token.revoke',
      orgId: org,
      tokenId: id,
      ownerTeam: this.owners.ownerOf('qwiet', org, id),
    }),
    isProtected: ({ org, id }) =>
      this.own.qwietToken(org, id, this.owners.ownerOf('qwiet', org, id) !== undefined),
    send: ({ org, id }) => this.client.deleteToken(org, id),
    // Keygate never holds a token's value, so it cannot try the token: a revoked token is one
    // Qwiet no longer lists, even with show_expired=true (Qwiet lists every live or expired one).
    verifyRevoked: async (target) => {
      const id = target.credential_id?.toLowerCase();
      const listed = (await this.tokens(target.org_id ?? '')).some(
        (t) => String(t.id).toLowerCase() === id,
      );
      return listed
        ? {
            revoked: false,
            note: 'Qwiet still lists the token (show_expired=true): it still works',
          }
        : { revoked: true, note: 'Qwiet no longer lists the token (show_expired=true)' };
    },
    findLost: async (attempt) => {
      const id = attempt.target.credential_id?.toLowerCase();
      const live = (await this.tokens(attempt.target.org_id ?? '')).some(
        (t) => String(t.id).toLowerCase() === id,
      );
      return live
        ? settled('failed', 'the token is still live at Qwiet')
        : settled('succeeded', 'the token is gone at Qwiet');
    },
  };
}
