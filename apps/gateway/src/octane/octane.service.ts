import { Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { generateSecret } from '@app/policy';
import { OctaneClient, OctaneListQuery } from '@app/upstream';
import type { GatewayAnswer } from '../common/vendor-reply';
import { CredentialOwners } from '../policy/credential-owners';
import { PolicyEnforcer } from '../policy/policy.enforcer';
import type {
  ApiAccessInputDto,
  CreateApiAccessRequestDto,
} from './dto/create-api-access.request.dto';
import type { UpdateApiAccessRequestDto } from './dto/update-api-access.request.dto';

type Entity = Record<string, unknown>;

/** Adds the secret Keygate generated to the vendor's answer: the caller's only chance to see it. */
function withGeneratedSecret(body: unknown, secret: string | undefined, inList: boolean): unknown {
  if (secret === undefined || typeof body !== 'object' || body === null) return body;
  if (!inList) return { ...(body as Entity), client_secret: secret };
  const list = body as { data?: Entity[] };
  return Array.isArray(list.data) && list.data.length > 0
    ? { ...list, data: [{ ...list.data[0], client_secret: secret }, ...list.data.slice(1)] }
    : body;
}

/** The Octane side of Keygate: policy first, then the vendor call. */
@Injectable()
export class OctaneService {
  constructor(
    private readonly client: OctaneClient,
    private readonly policy: PolicyEnforcer,
    private readonly owners: CredentialOwners,
  ) {}

  async listRoles(caller: Caller, spaceId: string, query: OctaneListQuery): Promise<GatewayAnswer> {
    this.read(caller, spaceId);
    return { answer: await this.client.listRoles(spaceId, { ...query }) };
  }

  async listWorkspaceRoles(
    caller: Caller,
    spaceId: string,
    query: OctaneListQuery,
  ): Promise<GatewayAnswer> {
    this.read(caller, spaceId);
    return { answer: await this.client.listWorkspaceRoles(spaceId, { ...query }) };
  }

  async listApiAccesses(
    caller: Caller,
    spaceId: string,
    query: OctaneListQuery,
  ): Promise<GatewayAnswer> {
    this.read(caller, spaceId);
    return { answer: await this.client.listApiAccesses(spaceId, { ...query }) };
  }

  async getApiAccess(
    caller: Caller,
    spaceId: string,
    id: string,
    fields?: string,
  ): Promise<GatewayAnswer> {
    this.read(caller, spaceId);
    return { answer: await this.client.getApiAccess(spaceId, id, fields) };
  }

  async createApiAccess(
    caller: Caller,
    spaceId: string,
    body: CreateApiAccessRequestDto,
    fields?: string,
  ): Promise<GatewayAnswer> {
    const input: ApiAccessInputDto = body.data[0];
    const decision = this.policy.enforce(caller, {
      action: 'octane.api_access.create',
      sharedSpaceId: spaceId,
      key: {
        name: input.name,
        client_secret: input.client_secret,
        expiration: input.expiration,
        workspace_role_ids: input.workspace_roles?.data.map((r) => r.id) ?? [],
        roles_in_all_workspaces: input.roles_in_all_workspaces?.data.map((r) => r.id) ?? [],
      },
    });
    this.assertServed(spaceId);
    const generated = decision.effective.generate_secret ? generateSecret() : undefined;
    const expiration = decision.effective.expiration ?? input.expiration;
    const sent = {
      ...input,
      client_secret: generated ?? input.client_secret,
      ...(expiration !== undefined && { expiration }),
    };
    const answer = await this.client.createApiAccess(spaceId, { data: [sent] }, fields);
    const created = (answer.body as { data?: Entity[] }).data?.[0];
    if (answer.status === 201 && typeof created?.id === 'string')
      this.owners.record('octane', spaceId, created.id, caller.team);
    return {
      answer: {
        ...answer,
        body:
          answer.status === 201 ? withGeneratedSecret(answer.body, generated, true) : answer.body,
      },
      decision,
    };
  }

  /** Revoke (`is_valid: false`) or regenerate (a new secret: the caller's, or one Keygate generates). */
  async updateApiAccess(
    caller: Caller,
    spaceId: string,
    id: string,
    body: UpdateApiAccessRequestDto,
    fields?: string,
  ): Promise<GatewayAnswer> {
    const ownerTeam = this.owners.ownerOf('octane', spaceId, id);
    if (!body.is_valid) {
      const decision = this.policy.enforce(caller, {
        action: 'octane.api_access.revoke',
        sharedSpaceId: spaceId,
        id,
        ownerTeam,
      });
      this.assertServed(spaceId);
      return {
        answer: await this.client.updateApiAccess(spaceId, id, { is_valid: false }, fields),
        decision,
      };
    }
    this.read(caller, spaceId);
    // The key's name is needed for the secret rule (a secret must not contain it).
    const current = await this.client.getApiAccess(spaceId, id, 'name');
    if (current.status !== 200) return { answer: current };
    const name = (current.body as Entity).name;
    const decision = this.policy.enforce(caller, {
      action: 'octane.api_access.regenerate',
      sharedSpaceId: spaceId,
      id,
      name: typeof name === 'string' ? name : undefined,
      client_secret: body.client_secret,
      ownerTeam,
    });
    const generated = decision.effective.generate_secret ? generateSecret() : undefined;
    const answer = await this.client.updateApiAccess(
      spaceId,
      id,
      { is_valid: true, client_secret: generated ?? body.client_secret },
      fields,
    );
    return {
      answer: {
        ...answer,
        body:
          answer.status === 200 ? withGeneratedSecret(answer.body, generated, false) : answer.body,
      },
      decision,
    };
  }

  private read(caller: Caller, spaceId: string): void {
    this.policy.enforce(caller, { action: 'octane.read', sharedSpaceId: spaceId });
    this.assertServed(spaceId);
  }

  private assertServed(spaceId: string): void {
    if (!this.client.servesSharedSpace(spaceId)) {
      throw new GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        `Keygate holds no credential for shared space ${spaceId}`,
      );
    }
  }
}
