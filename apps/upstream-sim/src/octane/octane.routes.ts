import type { SimClock } from '../clock';
import type { Route, SimRequest, SimResponse } from '../http/router';
import { validateNewApiAccess, validateUpdate } from './octane.api-access';
import { listCollection, parseFields, CollectionError, project } from './octane.collection';
import { octaneError, OctaneErrorBody, SESSION_EXPIRED_BODY } from './octane.errors';
import { SPACE_ADMIN_WORKSPACE_ROLE_ID } from './octane.fixtures';
import { MODELS, Ref } from './octane.model';
import { OctaneSessions, Principal } from './octane.sessions';
import { ApiAccess, NewApiAccess, OctaneStore } from './octane.store';

export interface OctaneRouteOptions {
  /** Answer 403 on `api_accesses` unless a technical-preview header is sent. */
  requireTechPreview: boolean;
}

const SPACE = '/api/shared_spaces/:spaceId';
const MAX_CREATE_ITEMS = 100;

function hasTechPreviewHeader(request: SimRequest): boolean {
  const h = request.req.headers;
  return (
    String(h['alm-octane-tech-preview'] ?? '').toLowerCase() === 'true' ||
    String(h['alm_octane_tech_preview'] ?? '').toLowerCase() === 'true' ||
    ['ALM_OCTANE_TECH_PREVIEW', 'HPE_REST_API_TECH_PREVIEW'].includes(
      String(h['hpeclienttype'] ?? ''),
    )
  );
}

const isSpaceAdmin = (principal: Principal): boolean =>
  principal.kind === 'user' ||
  (principal.access.entity.workspace_roles as Ref[]).some(
    (r) => r.id === SPACE_ADMIN_WORKSPACE_ROLE_ID,
  );

const withCookies = (response: SimResponse, setCookie?: string[]): SimResponse =>
  setCookie ? { ...response, headers: { ...response.headers, 'set-cookie': setCookie } } : response;

export function octaneRoutes(
  store: OctaneStore,
  sessions: OctaneSessions,
  clock: SimClock,
  options: OctaneRouteOptions,
): Route[] {
  type Handle = (r: SimRequest, spaceId: string, principal: Principal) => SimResponse;

  /** An `/api/shared_spaces/:id/...` route: session, shared space, and (for keys) space admin checks. */
  const spaceRoute = (
    method: string,
    path: string,
    op: string,
    handle: Handle,
    adminOnly: boolean,
  ): Route => ({
    method,
    pattern: SPACE + path,
    op,
    vendor: 'octane',
    handler: (r) => {
      const check = sessions.check(r.req, (p) => p.kind === 'user' || store.isUsable(p.access));
      if (check.kind === 'expired') return { status: 401, body: SESSION_EXPIRED_BODY };
      if (check.kind === 'missing') {
        return octaneError(
          401,
          'platform.authentication_required',
          'Authentication required: sign in first',
        );
      }
      const { principal, setCookie } = check;
      const spaceId = r.params.spaceId;
      if (!store.hasSpace(spaceId)) {
        return withCookies(
          octaneError(404, 'platform.web_application', 'HTTP 404 Not Found', null, false),
          setCookie,
        );
      }
      if (principal.kind === 'api_access' && principal.access.spaceId !== spaceId) {
        return withCookies(
          octaneError(403, 'platform.forbidden', 'Not allowed in this shared space'),
          setCookie,
        );
      }
      if (adminOnly && !isSpaceAdmin(principal)) {
        return withCookies(
          octaneError(
            403,
            'platform.forbidden',
            'Managing API access keys requires the Space Admin role',
          ),
          setCookie,
        );
      }
      if (adminOnly && options.requireTechPreview && !hasTechPreviewHeader(r)) {
        return withCookies(
          octaneError(
            403,
            'platform.technical_preview_api',
            'api_accesses is a technical preview resource: send the ALM-OCTANE-TECH-PREVIEW: true header',
          ),
          setCookie,
        );
      }
      return withCookies(handle(r, spaceId, principal), setCookie);
    },
  });

  const single = (access: ApiAccess, r: SimRequest, status: number): SimResponse => {
    try {
      const selection = parseFields(r.query.get('fields'), MODELS.api_access);
      return { status, body: project(access.entity, store.resolver(access.spaceId), selection) };
    } catch (error) {
      if (error instanceof CollectionError) return error.response;
      throw error;
    }
  };

  const notFound = (id: string): SimResponse =>
    octaneError(
      404,
      'platform.entity_not_found',
      `The api_access with id ${id} does not exist`,
      {
        entity_type: 'api_access',
        entity_id: id,
      },
      true,
    );

  return [
    {
      method: 'POST',
      pattern: '/authentication/sign_in',
      op: 'octane.sign_in',
      vendor: 'octane',
      handler: (r) => {
        const body = (typeof r.body === 'object' && r.body !== null ? r.body : {}) as Record<
          string,
          unknown
        >;
        const id = body.client_id ?? body.user;
        const secret = body.client_secret ?? body.password;
        let principal: Principal | undefined;
        if (typeof id === 'string' && typeof secret === 'string') {
          const access = store.findByClientId(id);
          if (access && access.secret === secret && store.isUsable(access)) {
            principal = { kind: 'api_access', access };
          } else if (store.users.some((u) => u.user === id && u.password === secret)) {
            principal = { kind: 'user', name: id };
          }
        }
        if (!principal) {
          return octaneError(
            401,
            'platform.authentication_failed',
            'Authentication failed: wrong credentials, or the key is revoked or expired',
          );
        }
        return { status: 200, headers: { 'set-cookie': sessions.signIn(principal) } };
      },
    },
    {
      method: 'POST',
      pattern: '/authentication/sign_out',
      op: 'octane.sign_out',
      vendor: 'octane',
      handler: (r) => ({ status: 200, headers: { 'set-cookie': sessions.signOut(r.req) } }),
    },

    spaceRoute(
      'GET',
      '/roles',
      'octane.roles.list',
      (r, spaceId) =>
        listCollection(store.roles(spaceId), MODELS.role, r.query, store.resolver(spaceId)),
      false,
    ),

    spaceRoute(
      'GET',
      '/workspace_roles',
      'octane.workspace_roles.list',
      (r, spaceId) =>
        listCollection(
          store.workspaceRoles(spaceId),
          MODELS.workspace_role,
          r.query,
          store.resolver(spaceId),
        ),
      false,
    ),

    spaceRoute(
      'GET',
      '/api_accesses',
      'octane.api_accesses.list',
      (r, spaceId) =>
        listCollection(
          store.apiAccesses(spaceId).map((a) => a.entity),
          MODELS.api_access,
          r.query,
          store.resolver(spaceId),
        ),
      true,
    ),

    spaceRoute(
      'POST',
      '/api_accesses',
      'octane.api_accesses.create',
      (r, spaceId) => {
        const data = (r.body as { data?: unknown } | undefined)?.data;
        if (!Array.isArray(data) || data.length === 0 || data.length > MAX_CREATE_ITEMS) {
          return octaneError(
            400,
            'platform.general_error',
            `The body must be {"data": [...]} with 1 to ${MAX_CREATE_ITEMS} api_access entities`,
          );
        }
        let selection;
        try {
          selection = parseFields(r.query.get('fields'), MODELS.api_access);
        } catch (error) {
          if (error instanceof CollectionError) return error.response;
          throw error;
        }
        const resolve = store.resolver(spaceId);
        const created: ApiAccess[] = [];
        const errors: (OctaneErrorBody & { index: number })[] = [];
        const names = new Set<string>();
        data.forEach((item, index) => {
          const input = validateNewApiAccess(item, resolve, clock.now());
          if ('error_code' in input) {
            errors.push({ ...input, index });
          } else if (store.nameTaken(spaceId, input.name) || names.has(input.name)) {
            errors.push({
              ...(octaneError(
                409,
                'platform.duplicate_entity_error',
                `An api_access with this name already exists: ${input.name}`,
                { field_name: 'name' },
                true,
              ).body as OctaneErrorBody),
              index,
            });
          } else {
            names.add(input.name);
            created.push(store.create(spaceId, input as NewApiAccess));
          }
        });
        const envelope = {
          total_count: created.length,
          data: created.map((a) => project(a.entity, resolve, selection)),
          exceeds_total_count: false,
        };
        if (errors.length === 0) return { status: 201, body: envelope };
        const status = errors.every((e) => e.error_code === 'platform.duplicate_entity_error')
          ? 409
          : 400;
        return { status: created.length > 0 ? 201 : status, body: { ...envelope, errors } };
      },
      true,
    ),

    spaceRoute(
      'GET',
      '/api_accesses/:id',
      'octane.api_accesses.get',
      (r, spaceId) => {
        const access = store.apiAccess(spaceId, r.params.id);
        return access ? single(access, r, 200) : notFound(r.params.id);
      },
      true,
    ),

    spaceRoute(
      'PUT',
      '/api_accesses/:id',
      'octane.api_accesses.update',
      (r, spaceId) => {
        const access = store.apiAccess(spaceId, r.params.id);
        if (!access) return notFound(r.params.id);
        const updates = validateUpdate(
          r.body,
          { id: access.entity.id, isValid: access.entity.is_valid === true },
          clock.now(),
        );
        for (const update of updates) {
          if (update.kind === 'error') return { status: update.status, body: update.error };
        }
        for (const update of updates) {
          if (update.kind === 'revoke') store.revoke(access);
          else if (update.kind === 'regenerate') store.regenerate(access, update.secret);
          else if (update.kind === 'expiration')
            store.touch(access, { expiration: update.expiration });
        }
        return single(access, r, 200);
      },
      true,
    ),
  ];
}
