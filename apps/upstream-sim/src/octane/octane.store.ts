import { octaneTime, SimClock } from '../clock';
import { octaneRandomId } from '../ids';
import {
  roleEntities,
  SPACE_ADMIN_WORKSPACE_ROLE_ID,
  workspaceEntities,
  workspaceRoleEntities,
} from './octane.fixtures';
import type { Entity, Ref, Resolve } from './octane.model';

export interface OctaneSpaceConfig {
  id: string;
  /** The API access key the gateway signs in with (Space Admin of this shared space). */
  clientId: string;
  clientSecret: string;
}

export interface OctaneUserConfig {
  user: string;
  password: string;
}

export interface ApiAccess {
  entity: Entity;
  spaceId: string;
  secret: string;
  createdAt: number;
  revokedAt?: number;
  regeneratedAt: number[];
  seeded: boolean;
}

interface SharedSpace {
  id: string;
  roles: Entity[];
  workspaces: Entity[];
  workspaceRoles: Entity[];
  apiAccesses: Map<string, ApiAccess>;
  names: Set<string>;
}

export interface NewApiAccess {
  name: string;
  client_secret: string;
  expiration?: string;
  authentication_type: number;
  workspace_roles: Ref[];
  roles_in_all_workspaces: Ref[];
}

export class OctaneStore {
  private readonly spaces = new Map<string, SharedSpace>();
  private readonly byClientId = new Map<string, ApiAccess>();
  private nextId = 1001;

  constructor(
    private readonly clock: SimClock,
    private readonly spaceConfigs: readonly OctaneSpaceConfig[],
    readonly users: readonly OctaneUserConfig[],
  ) {
    this.reset();
  }

  reset(): void {
    this.spaces.clear();
    this.byClientId.clear();
    this.nextId = 1001;
    for (const config of this.spaceConfigs) {
      this.spaces.set(config.id, {
        id: config.id,
        roles: roleEntities(config.id),
        workspaces: workspaceEntities(),
        workspaceRoles: workspaceRoleEntities(),
        apiAccesses: new Map(),
        names: new Set(),
      });
      const name = config.clientId.replace(/_[0-9a-z]{25}$/, '');
      this.insert(
        config.id,
        {
          name,
          client_secret: config.clientSecret,
          authentication_type: 0,
          workspace_roles: [{ type: 'workspace_role', id: SPACE_ADMIN_WORKSPACE_ROLE_ID }],
          roles_in_all_workspaces: [],
        },
        config.clientId,
        true,
      );
    }
  }

  hasSpace(id: string): boolean {
    return this.spaces.has(id);
  }

  roles(spaceId: string): Entity[] {
    return this.space(spaceId).roles;
  }

  workspaceRoles(spaceId: string): Entity[] {
    return this.space(spaceId).workspaceRoles;
  }

  apiAccesses(spaceId: string): ApiAccess[] {
    return [...this.space(spaceId).apiAccesses.values()];
  }

  apiAccess(spaceId: string, id: string): ApiAccess | undefined {
    return this.space(spaceId).apiAccesses.get(id);
  }

  allApiAccesses(): ApiAccess[] {
    return [...this.spaces.values()].flatMap((s) => [...s.apiAccesses.values()]);
  }

  findByClientId(clientId: string): ApiAccess | undefined {
    return this.byClientId.get(clientId);
  }

  /** Valid and not past its expiration: may sign in and keep a session. */
  isUsable(access: ApiAccess): boolean {
    const expiration = access.entity.expiration as string | null;
    return (
      access.entity.is_valid === true &&
      (expiration === null || Date.parse(expiration) > this.clock.now())
    );
  }

  resolver(spaceId: string): Resolve {
    const space = this.space(spaceId);
    return (ref: Ref) => {
      const pool =
        ref.type === 'role'
          ? space.roles
          : ref.type === 'workspace'
            ? space.workspaces
            : ref.type === 'workspace_role'
              ? space.workspaceRoles
              : [];
      return pool.find((e) => e.id === ref.id) ?? space.apiAccesses.get(ref.id)?.entity;
    };
  }

  nameTaken(spaceId: string, name: string): boolean {
    return this.space(spaceId).names.has(name);
  }

  create(spaceId: string, input: NewApiAccess): ApiAccess {
    return this.insert(spaceId, input, `${input.name}_${octaneRandomId()}`, false);
  }

  revoke(access: ApiAccess): void {
    if (access.entity.is_valid === true) access.revokedAt = this.clock.now();
    this.touch(access, { is_valid: false });
  }

  regenerate(access: ApiAccess, secret: string): void {
    access.secret = secret;
    access.revokedAt = undefined;
    access.regeneratedAt.push(this.clock.now());
    this.touch(access, { is_valid: true });
  }

  touch(access: ApiAccess, changes: Record<string, unknown>): void {
    Object.assign(access.entity, changes, {
      last_modified: octaneTime(this.clock.now()),
      version_stamp: (access.entity.version_stamp as number) + 1,
    });
  }

  private insert(
    spaceId: string,
    input: NewApiAccess,
    clientId: string,
    seeded: boolean,
  ): ApiAccess {
    const now = this.clock.now();
    const id = String(this.nextId++);
    const access: ApiAccess = {
      entity: {
        type: 'api_access',
        id,
        name: input.name,
        client_id: clientId,
        is_valid: true,
        expiration: input.expiration ?? null,
        authentication_type: input.authentication_type,
        workspace_roles: input.workspace_roles,
        roles_in_all_workspaces: input.roles_in_all_workspaces,
        creation_time: octaneTime(now),
        last_modified: octaneTime(now),
        version_stamp: 1,
      },
      spaceId,
      secret: input.client_secret,
      createdAt: now,
      regeneratedAt: [],
      seeded,
    };
    const space = this.space(spaceId);
    space.apiAccesses.set(id, access);
    space.names.add(input.name);
    this.byClientId.set(clientId, access);
    return access;
  }

  private space(id: string): SharedSpace {
    const space = this.spaces.get(id);
    if (!space) throw new Error(`unknown shared space ${id}`);
    return space;
  }
}
