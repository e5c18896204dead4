import { octaneTime } from '../clock';
import type { Route, SimResponse } from '../http/router';
import { octaneSecret } from '../ids';
import { SPACE_ADMIN_WORKSPACE_ROLE_ID } from '../octane/octane.fixtures';
import { CI_ROLE_ID } from '../qwiet/qwiet.fixtures';
import { tokenView, TokenType } from '../qwiet/qwiet.store';
import type { AdminDeps } from './admin.routes';

type RouteOf = (method: string, pattern: string, op: string, handler: Route['handler']) => Route;

const notFound = (what: string): SimResponse => ({ status: 404, body: { errors: [what] } });
const badRequest = (errors: string[]): SimResponse => ({ status: 400, body: { errors } });
const field = (body: unknown, name: string): unknown =>
  typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined;

/**
 * What happens at a vendor without Keygate (drift): credentials created and revoked there by
 * someone else, and credentials that expire. Admin only (`/__sim`), never a vendor route: each
 * change is made in the store directly, with the simulator's clock.
 */
export function behindTheBackRoutes(deps: AdminDeps, route: RouteOf): Route[] {
  const { qwiet, octane, clock } = deps;
  const token = (org: string, id: string) =>
    qwiet.all().find((t) => t.orgId === org && t.id === id && t.revokedAt === undefined);
  const key = (space: string, id: string) =>
    octane.hasSpace(space) ? octane.apiAccess(space, id) : undefined;
  return [
    // A Qwiet token issued in the org by someone else: {label, role_id?, token_type?, valid_for_seconds?}.
    route('POST', '/qwiet/orgs/:orgId/tokens', 'sim.qwiet.create', (r) => {
      const { orgId } = r.params;
      if (!qwiet.hasOrg(orgId)) return notFound(`no org ${orgId}`);
      const label = field(r.body, 'label');
      const valid = field(r.body, 'valid_for_seconds');
      if (typeof label !== 'string' || label === '') return badRequest(['label is required']);
      if (valid !== undefined && (!Number.isSafeInteger(valid) || (valid as number) <= 0))
        return badRequest(['valid_for_seconds must be a positive integer']);
      const { token } = qwiet.create(orgId, {
        label,
        description: (field(r.body, 'description') as string | undefined) ?? undefined,
        role_id: (field(r.body, 'role_id') as string | undefined) ?? CI_ROLE_ID,
        token_type: (field(r.body, 'token_type') as TokenType | undefined) ?? 'integration',
        valid_for_seconds: valid as number | undefined,
      });
      return { status: 201, body: tokenView(token) };
    }),
    // A token revoked at Qwiet by someone else.
    route('DELETE', '/qwiet/orgs/:orgId/tokens/:tokenId', 'sim.qwiet.revoke', (r) => {
      const { orgId, tokenId } = r.params;
      return qwiet.delete(orgId, tokenId)
        ? { status: 200, body: { revoked: tokenId } }
        : notFound(`no live token ${tokenId} in org ${orgId}`);
    }),
    // A token that expires now (its expiry set to the simulator's clock).
    route('POST', '/qwiet/orgs/:orgId/tokens/:tokenId/expire', 'sim.qwiet.expire', (r) => {
      const found = token(r.params.orgId, r.params.tokenId);
      if (!found) return notFound(`no live token ${r.params.tokenId} in org ${r.params.orgId}`);
      found.expiresAt = clock.now();
      return { status: 200, body: tokenView(found) };
    }),
    // An Octane key created in the shared space by someone else: {name, expiration?}.
    route('POST', '/octane/shared_spaces/:spaceId/api_accesses', 'sim.octane.create', (r) => {
      const { spaceId } = r.params;
      if (!octane.hasSpace(spaceId)) return notFound(`no shared space ${spaceId}`);
      const name = field(r.body, 'name');
      const expiration = field(r.body, 'expiration');
      if (typeof name !== 'string' || name === '') return badRequest(['name is required']);
      if (octane.nameTaken(spaceId, name)) return badRequest([`name ${name} is taken`]);
      if (expiration !== undefined && Number.isNaN(Date.parse(String(expiration))))
        return badRequest(['expiration must be an ISO-8601 date-time']);
      const access = octane.create(spaceId, {
        name,
        client_secret: octaneSecret(),
        expiration: expiration as string | undefined,
        authentication_type: 0,
        workspace_roles: [{ type: 'workspace_role', id: SPACE_ADMIN_WORKSPACE_ROLE_ID }],
        roles_in_all_workspaces: [],
      });
      return { status: 201, body: { ...access.entity } };
    }),
    // A key revoked at Octane by someone else (is_valid false).
    route(
      'POST',
      '/octane/shared_spaces/:spaceId/api_accesses/:id/revoke',
      'sim.octane.revoke',
      (r) => {
        const access = key(r.params.spaceId, r.params.id);
        if (!access) return notFound(`no key ${r.params.id} in shared space ${r.params.spaceId}`);
        octane.revoke(access);
        return { status: 200, body: { ...access.entity } };
      },
    ),
    // A key that expires now (its expiration set to the simulator's clock).
    route(
      'POST',
      '/octane/shared_spaces/:spaceId/api_accesses/:id/expire',
      'sim.octane.expire_key',
      (r) => {
        const access = key(r.params.spaceId, r.params.id);
        if (!access) return notFound(`no key ${r.params.id} in shared space ${r.params.spaceId}`);
        octane.touch(access, { expiration: octaneTime(clock.now()) });
        return { status: 200, body: { ...access.entity } };
      },
    ),
  ];
}
