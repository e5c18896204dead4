import { Injectable } from '@nestjs/common';
import type { AuditEntry } from '@app/audit';
import { generateSecret, OctaneKeyRequest } from '@app/policy';
import { OctaneClient } from '@app/upstream';
import type { GatewayAnswer } from '../common/vendor-reply';
import type {
  IssuanceOperation,
  LostAnswerContext,
  LostAnswerFinding,
  SentSecret,
} from '../issuance/operation';
import { ADMIN_MUST_CHECK, VendorAnswered } from '../issuance/operation';
import { conclusive, Entity, listIn, octaneQuoted, text } from '../issuance/vendor-answers';
import { CredentialOwners } from '../policy/credential-owners';
import { ApiAccessInputDto, policyKey } from './dto/create-api-access.request.dto';
import type { UpdateApiAccessRequestDto } from './dto/update-api-access.request.dto';

export interface CreateKeyInput {
  space: string;
  key: ApiAccessInputDto;
  fields?: string;
}

export interface RevokeKeyInput {
  space: string;
  id: string;
  fields?: string;
  /** The key is Keygate's own (refused). */
  isOwnKey: boolean;
}

export interface RegenerateKeyInput extends RevokeKeyInput {
  body: UpdateApiAccessRequestDto;
  /** The key as Octane has it now (read before the decision; not read for Keygate's own key). */
  current?: Entity;
  /** Keygate took the key out of use (its inventory status), whatever Octane shows now. */
  outOfUse?: boolean;
}

/** The ids of an Octane reference list (`{"data": [{"type": ..., "id": ...}]}`). */
const refIds = (refs: unknown): string[] =>
  ((refs as { data?: Entity[] } | null)?.data ?? []).map((r) => String(r.id));

/** Clocks of Keygate and Octane may differ by this much when a creation time is compared. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** The secret a call sends: one Keygate generates when the policy says so, else the caller's. */
const secretSent = (callers: string | undefined, generate: boolean): SentSecret | undefined =>
  generate
    ? { value: generateSecret(), generated: true }
    : callers !== undefined
      ? { value: callers, generated: false }
      : undefined;

/** Adds the secret Keygate generated to the answer: the caller's only chance to see it. */
function withGenerated(result: GatewayAnswer, secret: SentSecret | undefined, inList: boolean) {
  if (!secret?.generated) return result;
  const body = result.answer.body as Entity & { data?: Entity[] };
  const withSecret = inList
    ? {
        ...body,
        data: (body.data ?? []).map((e, i) =>
          i === 0 ? { ...e, client_secret: secret.value } : e,
        ),
      }
    : { ...body, client_secret: secret.value };
  return { ...result, answer: { ...result.answer, body: withSecret } };
}

const settled = (
  phase: AuditEntry['phase'],
  note: string,
  extra?: Partial<AuditEntry>,
): LostAnswerFinding => ({ kind: 'settled', phase, note, extra });

/** ALM Octane api_accesses: create, revoke and regenerate, as the issuance pipeline drives them. */
@Injectable()
export class OctaneApiAccessOperations {
  constructor(
    private readonly client: OctaneClient,
    private readonly owners: CredentialOwners,
  ) {}

  private revokeKey = (space: string, id: string, fields?: string) =>
    this.client.updateApiAccess(space, id, { is_valid: false }, fields);

  private ownerOf = (space: string, id: string) => this.owners.ownerOf('octane', space, id);

  readonly create: IssuanceOperation<CreateKeyInput> = {
    event: 'octane.api_access.create',
    target: ({ space, key }) => {
      const k = policyKey(key);
      return {
        vendor: 'octane',
        shared_space_id: space,
        name: key.name,
        role_ids: [...k.workspace_role_ids, ...k.roles_in_all_workspaces.map((id) => `all:${id}`)],
        lifetime_requested: key.expiration ?? null,
      };
    },
    policy: ({ space, key }, meta) => ({
      action: 'octane.api_access.create',
      sharedSpaceId: space,
      key: policyKey(key),
      forTeam: meta.forTeam,
    }),
    secret: ({ key }, decision) =>
      secretSent(key.client_secret, decision.effective.generate_secret === true),
    send: ({ space, key, fields }, { decision, secret }) => {
      const expiration = decision.effective.expiration ?? key.expiration;
      const sent = {
        ...key,
        client_secret: secret?.value,
        ...(expiration !== undefined && { expiration }),
      };
      return this.client.createApiAccess(space, { data: [sent] }, fields);
    },
    issued: (_input, answer, secret) => {
      const created = (answer.body as { data?: Entity[] }).data?.[0] ?? {};
      return {
        credentialId: text(created.id),
        secret: secret?.value,
        target: {
          client_id: text(created.client_id),
          expires_at: text(created.expiration) ?? null,
        },
      };
    },
    undo: ({ space }, issued) => this.revokeKey(space, issued.credentialId as string),
    answer: (result, secret) => withGenerated(result, secret, true),
    findLost: (attempt, ctx) => this.lostKey(attempt, ctx),
  };

  readonly revoke: IssuanceOperation<RevokeKeyInput> = {
    event: 'octane.api_access.revoke',
    target: ({ space, id }) => ({ vendor: 'octane', shared_space_id: space, credential_id: id }),
    policy: ({ space, id }) => ({
      action: 'octane.api_access.revoke',
      sharedSpaceId: space,
      id,
      ownerTeam: this.ownerOf(space, id),
    }),
    isProtected: ({ isOwnKey }) => isOwnKey,
    send: ({ space, id, fields }) => this.revokeKey(space, id, fields),
    // Keygate does not keep a key's secret, so it cannot sign in with it: the key as Octane has it.
    verifyRevoked: async (target) => {
      const { shared_space_id: space = '', credential_id: id = '' } = target;
      const answer = await this.client.getApiAccess(space, id, 'is_valid');
      if (answer.status === 404) return { revoked: true, note: 'Octane no longer has the key' };
      return conclusive(answer).is_valid === false
        ? { revoked: true, note: 'Octane shows the key is_valid: false' }
        : { revoked: false, note: 'Octane shows the key is_valid: true: it still works' };
    },
    findLost: async (attempt) => {
      const { shared_space_id: space = '', credential_id: id = '' } = attempt.target;
      return conclusive(await this.client.getApiAccess(space, id, 'is_valid')).is_valid === false
        ? settled('succeeded', 'the key is revoked at Octane')
        : settled('failed', 'the key is still valid at Octane');
    },
  };

  readonly regenerate: IssuanceOperation<RegenerateKeyInput> = {
    event: 'octane.api_access.regenerate',
    // A regeneration is judged like a create, on the key as it is now: its name (the secret must
    // not contain it), expiration and roles against today's rules, and whether it is revoked.
    // Keygate's own key is refused without being read.
    prepare: async (input) => {
      if (input.isOwnKey) return input;
      const current = await this.client.getApiAccess(
        input.space,
        input.id,
        'name,client_id,is_valid,expiration,workspace_roles,roles_in_all_workspaces',
      );
      if (current.status !== 200) throw new VendorAnswered(current);
      const outOfUse = await this.owners.outOfUse('octane', input.space, input.id);
      return { ...input, current: current.body as Entity, outOfUse };
    },
    target: ({ space, id, current }) => ({
      vendor: 'octane',
      shared_space_id: space,
      credential_id: id,
      name: text(current?.name),
      client_id: text(current?.client_id),
    }),
    policy: ({ space, id, body, current, outOfUse }, meta) => ({
      action: 'octane.api_access.regenerate',
      sharedSpaceId: space,
      id,
      key: currentKey(current, body.client_secret),
      // Revoked at Octane, or revoked by Keygate though Octane still shows it valid.
      reactivates: current?.is_valid === false || outOfUse === true,
      ownerTeam: this.ownerOf(space, id),
      forTeam: meta.forTeam,
    }),
    isProtected: ({ isOwnKey }) => isOwnKey,
    secret: ({ body }, decision) =>
      secretSent(body.client_secret, decision.effective.generate_secret === true),
    send: ({ space, id, fields }, { decision, secret }) =>
      this.client.updateApiAccess(
        space,
        id,
        {
          is_valid: true,
          client_secret: secret?.value,
          // A clamp of today's expiration cap applies to the regenerated key too.
          ...(decision.effective.expiration !== undefined && {
            expiration: decision.effective.expiration,
          }),
        },
        fields,
      ),
    issued: ({ id }, _answer, secret) => ({ credentialId: id, secret: secret?.value }),
    undo: ({ space, id }) => this.revokeKey(space, id),
    answer: (result, secret) => withGenerated(result, secret, false),
    // Proven by signing in with the secret sent; Keygate's own secret was never the caller's to see.
    findLost: async (attempt, ctx) => {
      const clientId = attempt.target.client_id;
      if (!ctx.secret || !clientId) {
        return settled(
          'failed',
          `the outcome is unknown (Keygate no longer holds the secret sent, only its fingerprint in the attempt); the key was left as it is: ${ADMIN_MUST_CHECK} it`,
        );
      }
      if (!(await this.client.acceptsKey(clientId, ctx.secret.value))) {
        return ctx.final
          ? settled('failed', 'the key does not take the new secret: it was not regenerated')
          : { kind: 'pending' };
      }
      if (!ctx.secret.generated) {
        return settled('succeeded', 'the key takes the secret the caller sent: regenerated', {
          fingerprint: attempt.fingerprint,
        });
      }
      const { shared_space_id: space = '', credential_id: id = '' } = attempt.target;
      conclusive(await this.revokeKey(space, id));
      return settled(
        'compensated',
        'regenerated with a secret Keygate generated and never handed out: revoked',
      );
    },
  };

  /**
   * An Octane create whose answer was lost: the unrecorded valid keys of that name created in the
   * window are the candidates. With the secret sent still in hand, each is proven by signing in
   * with it; without it (after a restart) no candidate can be proven, and none is revoked.
   */
  private async lostKey(attempt: AuditEntry, ctx: LostAnswerContext): Promise<LostAnswerFinding> {
    const space = attempt.target.shared_space_id ?? '';
    const answer = await this.client.listApiAccesses(space, {
      query: `"name EQ ${octaneQuoted(attempt.target.name ?? '')}"`,
      fields: 'name,client_id,is_valid,creation_time',
    });
    const candidates = listIn(answer, 'data').filter((k) => {
      const created = Date.parse(String(k.creation_time ?? ''));
      return (
        !ctx.isRecorded(String(k.id)) &&
        k.is_valid === true &&
        (Number.isNaN(created) ||
          (created >= ctx.window.from - CLOCK_SKEW_MS && created <= ctx.window.to + CLOCK_SKEW_MS))
      );
    });
    if (ctx.secret) {
      const mine: Entity[] = [];
      for (const k of candidates) {
        if (await this.client.acceptsKey(String(k.client_id), ctx.secret.value)) mine.push(k);
      }
      if (mine.length === 0) {
        return ctx.final
          ? settled(
              'failed',
              'Octane shows no key that takes this request’s secret: none was created',
            )
          : { kind: 'pending' };
      }
      for (const k of mine) conclusive(await this.revokeKey(space, String(k.id)));
      return settled(
        'compensated',
        `created (it takes the secret this request sent) but never recorded nor handed out: revoked ${mine.map((k) => k.id).join(', ')}`,
        { target: { credential_id: String(mine[0].id), client_id: String(mine[0].client_id) } },
      );
    }
    if (!ctx.final) return { kind: 'pending' };
    if (candidates.length === 0) {
      return settled('failed', 'Octane shows no unrecorded key of this name: none was created');
    }
    return settled(
      'failed',
      `ambiguous: unrecorded valid keys named ${JSON.stringify(attempt.target.name)} created in the window (${candidates.map((k) => k.id).join(', ')}), and Keygate no longer holds the secret that would prove which one this request created: none revoked; ${ADMIN_MUST_CHECK} them`,
    );
  }
}

/** The key as Octane has it, with the new secret: what a regeneration is judged on. */
function currentKey(current: Entity | undefined, secret: string | undefined): OctaneKeyRequest {
  return {
    name: text(current?.name) ?? '',
    client_secret: secret,
    expiration: text(current?.expiration),
    workspace_role_ids: refIds(current?.workspace_roles),
    roles_in_all_workspaces: refIds(current?.roles_in_all_workspaces),
  };
}
