import { Injectable } from '@nestjs/common';
import { Caller, isAdmin } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { generateSecret, OctaneKeyRequest } from '@app/policy';
import { OctaneClient, OctaneListQuery, VendorResponse } from '@app/upstream';
import { AuditedCall } from '../audit/audited-call';
import type { RequestMeta } from '../audit/request-meta';
import { OwnCredentials } from '../common/own-credentials';
import type { GatewayAnswer } from '../common/vendor-reply';
import { CredentialOwners } from '../policy/credential-owners';
import { PolicyEnforcer } from '../policy/policy.enforcer';
import { CreateApiAccessRequestDto, policyKey } from './dto/create-api-access.request.dto';
import type { UpdateApiAccessRequestDto } from './dto/update-api-access.request.dto';

type Entity = Record<string, unknown>;
/** The ids of an Octane reference list (`{"data": [{"type": ..., "id": ...}]}`). */
const refIds = (refs: unknown): string[] =>
  ((refs as { data?: Entity[] } | null)?.data ?? []).map((r) => String(r.id));
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Adds the secret Keygate generated to the vendor's answer: the caller's only chance to see it. */
function withGeneratedSecret(
  { answer, decision }: GatewayAnswer,
  secret: string | undefined,
  inList: boolean,
): GatewayAnswer {
  const ok = answer.status >= 200 && answer.status < 300;
  if (secret === undefined || !ok) return { answer, decision };
  const body = answer.body as Entity & { data?: Entity[] };
  const withSecret = inList
    ? {
        ...body,
        data: (body.data ?? []).map((e, i) => (i === 0 ? { ...e, client_secret: secret } : e)),
      }
    : { ...body, client_secret: secret };
  return { answer: { ...answer, body: withSecret }, decision };
}

/** Runs tasks of one key one after another (tasks of different keys run side by side). */
class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

/** The secret a create or regeneration sends: the one Keygate generated, else the caller's. */
const secretSent = (
  callers: string | undefined,
  generated: string | undefined,
): { value: string; generated: boolean } | undefined =>
  generated !== undefined
    ? { value: generated, generated: true }
    : callers !== undefined
      ? { value: callers, generated: false }
      : undefined;

/** The Octane side of Keygate: policy first, every change audited, then the vendor call. */
@Injectable()
export class OctaneService {
  constructor(
    private readonly client: OctaneClient,
    private readonly policy: PolicyEnforcer,
    private readonly audited: AuditedCall,
    private readonly owners: CredentialOwners,
    private readonly own: OwnCredentials,
  ) {}

  private readonly keyLocks = new KeyedQueue();

  async listRoles(caller: Caller, spaceId: string, query: OctaneListQuery): Promise<GatewayAnswer> {
    return { answer: await this.client.listRoles(this.readable(caller, spaceId), { ...query }) };
  }

  async listWorkspaceRoles(
    caller: Caller,
    spaceId: string,
    query: OctaneListQuery,
  ): Promise<GatewayAnswer> {
    return {
      answer: await this.client.listWorkspaceRoles(this.readable(caller, spaceId), { ...query }),
    };
  }

  async listApiAccesses(
    caller: Caller,
    spaceId: string,
    query: OctaneListQuery,
  ): Promise<GatewayAnswer> {
    const answer = await this.client.listApiAccesses(this.readable(caller, spaceId), {
      ...query,
    });
    if (isAdmin(caller) || answer.status !== 200) return { answer };
    const own = await this.own.octaneKeyId(spaceId);
    return { answer: { ...answer, body: OwnCredentials.withoutOwn(answer.body, 'data', own) } };
  }

  async getApiAccess(
    caller: Caller,
    spaceId: string,
    id: string,
    fields?: string,
  ): Promise<GatewayAnswer> {
    this.readable(caller, spaceId);
    if (!isAdmin(caller) && id === (await this.own.octaneKeyId(spaceId))) {
      throw new GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        `no api_access ${id} in shared space ${spaceId}`,
      );
    }
    return { answer: await this.client.getApiAccess(spaceId, id, fields) };
  }

  async createApiAccess(
    caller: Caller,
    meta: RequestMeta,
    spaceId: string,
    body: CreateApiAccessRequestDto,
    fields?: string,
  ): Promise<GatewayAnswer> {
    this.served(spaceId);
    const input = body.data[0];
    const key = policyKey(input);
    let generated: string | undefined;
    const result = await this.audited.run(
      {
        caller,
        meta,
        event: 'octane.api_access.create',
        target: {
          vendor: 'octane',
          shared_space_id: spaceId,
          name: input.name,
          role_ids: [
            ...key.workspace_role_ids,
            ...key.roles_in_all_workspaces.map((id) => `all:${id}`),
          ],
          lifetime_requested: input.expiration ?? null,
        },
        policy: {
          action: 'octane.api_access.create',
          sharedSpaceId: spaceId,
          key,
          forTeam: meta.forTeam,
        },
      },
      {
        secret: (decision) => {
          if (decision.effective.generate_secret) generated = generateSecret();
          return secretSent(input.client_secret, generated);
        },
        send: ({ decision, secret }) => {
          const expiration = decision.effective.expiration ?? input.expiration;
          const sent = {
            ...input,
            client_secret: secret,
            ...(expiration !== undefined && { expiration }),
          };
          return this.client.createApiAccess(spaceId, { data: [sent] }, fields);
        },
        settle: (answer) => {
          const created = (answer.body as { data?: Entity[] }).data?.[0] ?? {};
          return {
            credentialId: text(created.id),
            secret: generated ?? input.client_secret,
            target: {
              client_id: text(created.client_id),
              expires_at: text(created.expiration) ?? null,
            },
          };
        },
        compensate: (settled) =>
          this.client.updateApiAccess(spaceId, settled.credentialId as string, { is_valid: false }),
      },
    );
    return withGeneratedSecret(result, generated, true);
  }

  /**
   * Revoke (`is_valid: false`) or regenerate (a new secret: the caller's, or one Keygate generates).
   * Changes to one key run one at a time: a regeneration decided on a read of the key must not
   * overtake a revocation made meanwhile (it would bring the key back without octane.reactivation).
   */
  updateApiAccess(
    caller: Caller,
    meta: RequestMeta,
    spaceId: string,
    id: string,
    body: UpdateApiAccessRequestDto,
    fields?: string,
  ): Promise<GatewayAnswer> {
    return this.keyLocks.run(`${spaceId}/${id}`, () =>
      this.changeApiAccess(caller, meta, spaceId, id, body, fields),
    );
  }

  private async changeApiAccess(
    caller: Caller,
    meta: RequestMeta,
    spaceId: string,
    id: string,
    body: UpdateApiAccessRequestDto,
    fields?: string,
  ): Promise<GatewayAnswer> {
    this.served(spaceId);
    const ownerTeam = this.owners.ownerOf('octane', spaceId, id);
    const protectedCredential = id === (await this.own.octaneKeyId(spaceId));
    if (!body.is_valid || protectedCredential) {
      // A revocation; or a regeneration of Keygate's own key, refused (audited) before it is read.
      return this.audited.run(
        {
          caller,
          meta,
          event: body.is_valid ? 'octane.api_access.regenerate' : 'octane.api_access.revoke',
          target: { vendor: 'octane', shared_space_id: spaceId, credential_id: id },
          policy: { action: 'octane.api_access.revoke', sharedSpaceId: spaceId, id, ownerTeam },
          protectedCredential,
        },
        { send: () => this.client.updateApiAccess(spaceId, id, { is_valid: false }, fields) },
      );
    }
    this.readable(caller, spaceId);
    // A regeneration is judged like a create, on the key as it is now: its name (the secret must
    // not contain it), expiration and roles against today's rules, and whether it is revoked.
    const current: VendorResponse = await this.client.getApiAccess(
      spaceId,
      id,
      'name,client_id,is_valid,expiration,workspace_roles,roles_in_all_workspaces',
    );
    if (current.status !== 200) return { answer: current };
    const entity = current.body as Entity;
    const name = text(entity.name);
    const key: OctaneKeyRequest = {
      name: name ?? '',
      client_secret: body.client_secret,
      expiration: text(entity.expiration),
      workspace_role_ids: refIds(entity.workspace_roles),
      roles_in_all_workspaces: refIds(entity.roles_in_all_workspaces),
    };
    let generated: string | undefined;
    const result = await this.audited.run(
      {
        caller,
        meta,
        event: 'octane.api_access.regenerate',
        target: {
          vendor: 'octane',
          shared_space_id: spaceId,
          credential_id: id,
          name,
          client_id: text((current.body as Entity).client_id),
        },
        policy: {
          action: 'octane.api_access.regenerate',
          sharedSpaceId: spaceId,
          id,
          key,
          reactivates: entity.is_valid === false,
          ownerTeam,
          forTeam: meta.forTeam,
        },
      },
      {
        secret: (decision) => {
          if (decision.effective.generate_secret) generated = generateSecret();
          return secretSent(body.client_secret, generated);
        },
        send: ({ decision, secret }) =>
          this.client.updateApiAccess(
            spaceId,
            id,
            {
              is_valid: true,
              client_secret: secret,
              // A clamp of today's expiration cap applies to the regenerated key too.
              ...(decision.effective.expiration !== undefined && {
                expiration: decision.effective.expiration,
              }),
            },
            fields,
          ),
        settle: () => ({ credentialId: id, secret: generated ?? body.client_secret }),
        compensate: () => this.client.updateApiAccess(spaceId, id, { is_valid: false }),
      },
    );
    return withGeneratedSecret(result, generated, false);
  }

  private readable(caller: Caller, spaceId: string): string {
    this.policy.enforce(caller, { action: 'octane.read', sharedSpaceId: spaceId });
    return this.served(spaceId);
  }

  private served(spaceId: string): string {
    if (!this.client.servesSharedSpace(spaceId)) {
      throw new GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        `Keygate holds no credential for shared space ${spaceId}`,
      );
    }
    return spaceId;
  }
}
