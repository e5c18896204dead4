import { Inject, Injectable } from '@nestjs/common';
import { Caller, isAdmin } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import type { Database } from '@app/ledger';
import { OctaneClient, OctaneListQuery } from '@app/upstream';
import type { RequestMeta } from '../audit/request-meta';
import { OwnCredentials } from '../common/own-credentials';
import { findCredential, inventoryRead, teamCredentialIds } from '../credentials/inventory';
import { octaneListForTeam } from '../credentials/team-lists';
import { DATABASE } from '../database/database.tokens';
import type { GatewayAnswer } from '../common/vendor-reply';
import { IssuancePipeline } from '../issuance/issuance.pipeline';
import { PolicyEnforcer } from '../policy/policy.enforcer';
import type { CreateApiAccessRequestDto } from './dto/create-api-access.request.dto';
import type { UpdateApiAccessRequestDto } from './dto/update-api-access.request.dto';
import { OctaneApiAccessOperations } from './octane-api-access.operations';

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

/** The Octane side of Keygate: reads checked for scope; every change through the issuance pipeline. */
@Injectable()
export class OctaneService {
  constructor(
    private readonly client: OctaneClient,
    private readonly policy: PolicyEnforcer,
    private readonly pipeline: IssuancePipeline,
    private readonly ops: OctaneApiAccessOperations,
    private readonly own: OwnCredentials,
    @Inject(DATABASE) private readonly database: Database,
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
    const space = this.readable(caller, spaceId);
    if (isAdmin(caller)) return { answer: await this.client.listApiAccesses(space, { ...query }) };
    // A member sees only the keys their team owns in the inventory (never Keygate's own key,
    // another team's, or one Keygate did not issue), paged and counted as Octane would.
    const owned = await teamCredentialIds(this.database, 'octane', space, caller.team);
    const answer = await octaneListForTeam(
      (q) => this.client.listApiAccesses(space, q),
      { ...query },
      owned,
    );
    return { answer };
  }

  async getApiAccess(
    caller: Caller,
    spaceId: string,
    id: string,
    fields?: string,
  ): Promise<GatewayAnswer> {
    this.readable(caller, spaceId);
    // A member reads only a key their team owns in the inventory (as in the list): another team's,
    // Keygate's own or one made behind Keygate's back answers as an unknown id does.
    if (!isAdmin(caller)) {
      const owned = await inventoryRead(
        findCredential(this.database, { vendor: 'octane', scope: spaceId, credential_id: id }),
      );
      if (
        owned?.owner_team !== caller.team ||
        !owned.ledger_owned ||
        id === (await this.own.octaneKeyId(spaceId))
      )
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
    const input = { space: this.served(spaceId), key: body.data[0], fields };
    return this.pipeline.run(this.ops.create, input, caller, meta);
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
    return this.keyLocks.run(`${spaceId}/${id}`, async () => {
      const space = this.served(spaceId);
      const isOwnKey = id === (await this.own.octaneKeyId(space));
      if (!body.is_valid) {
        return this.pipeline.run(this.ops.revoke, { space, id, fields, isOwnKey }, caller, meta);
      }
      this.readable(caller, space);
      const input = { space, id, fields, isOwnKey, body };
      return this.pipeline.run(this.ops.regenerate, input, caller, meta);
    });
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
