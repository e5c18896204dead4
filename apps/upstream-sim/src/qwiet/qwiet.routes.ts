import type { Route, SimRequest, SimResponse } from '../http/router';
import { qwietError } from './qwiet.errors';
import { CI_ROLE_ID, QWIET_ROLES, SERVICE_ACCOUNT_ROLE_ID } from './qwiet.fixtures';
import { QwietStore, QwietToken, tokenView } from './qwiet.store';
import { isTokenType, isUuid, validateNewToken } from './qwiet.validation';

const BASE = '/api/v4/orgs/:orgId';

type Authorized = { token: QwietToken } | { denied: SimResponse };

function bearer(request: SimRequest): string | undefined {
  const header = request.req.headers.authorization;
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

function authorize(store: QwietStore, request: SimRequest, scope: string): Authorized {
  const value = bearer(request);
  if (value === undefined) {
    return { denied: qwietError(401, 'UNAUTHENTICATED', 'missing bearer access token') };
  }
  const token = store.authenticate(value);
  if (!token) {
    return { denied: qwietError(401, 'UNAUTHENTICATED', 'invalid or expired access token') };
  }
  const orgId = request.params.orgId;
  if (!isUuid(orgId)) {
    return { denied: qwietError(400, 'BAD_REQUEST', 'invalid org id', ['orgID must be a UUID']) };
  }
  if (token.orgId !== orgId.toLowerCase()) {
    return { denied: qwietError(403, 'FORBIDDEN', 'access token is not valid for this org') };
  }
  if (!store.scopesOf(token).includes(scope)) {
    return { denied: qwietError(403, 'FORBIDDEN', `access token lacks the ${scope} scope`) };
  }
  return { token };
}

function parseBooleanParam(value: string | null): boolean | undefined | 'invalid' {
  if (value === null) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return 'invalid';
}

export function qwietRoutes(store: QwietStore): Route[] {
  const route = (
    method: string,
    path: string,
    op: string,
    scope: string,
    handle: (r: SimRequest, token: QwietToken) => SimResponse,
  ): Route => ({
    method,
    pattern: BASE + path,
    op,
    vendor: 'qwiet',
    handler: (request) => {
      const auth = authorize(store, request, scope);
      return 'denied' in auth ? auth.denied : handle(request, auth.token);
    },
  });

  return [
    route('GET', '/roles', 'qwiet.roles.list', 'roles:list', () => ({
      status: 200,
      body: {
        ok: true,
        response: QWIET_ROLES.filter((r) => r.listed).map(
          ({ id, label, description, role_type }) => ({
            id,
            label,
            description,
            role_type,
          }),
        ),
      },
    })),

    route('GET', '/tokens', 'qwiet.tokens.list', 'tokens:list', (r, caller) => {
      const showExpired = parseBooleanParam(r.query.get('show_expired'));
      const tokenType = r.query.get('token_type');
      const errors: string[] = [];
      if (showExpired === 'invalid') errors.push('show_expired must be true or false');
      if (tokenType !== null && !isTokenType(tokenType)) {
        errors.push('token_type must be one of access, integration');
      }
      if (errors.length > 0) return qwietError(400, 'BAD_REQUEST', 'invalid query', errors);
      const tokens = store.list(caller.orgId, {
        showExpired: showExpired === true,
        tokenType: (tokenType ?? undefined) as QwietToken['tokenType'] | undefined,
      });
      return { status: 200, body: { ok: true, response: tokens.map(tokenView) } };
    }),

    route('POST', '/tokens', 'qwiet.tokens.create', 'tokens:create', (r, caller) => {
      const { input, errors } = validateNewToken(r.body);
      if (!input) return qwietError(400, 'BAD_REQUEST', 'invalid token request', errors);
      const role = store.role(input.role_id);
      if (!role || role.id === SERVICE_ACCOUNT_ROLE_ID) {
        return qwietError(400, 'BAD_REQUEST', 'invalid token request', [
          `role_id ${input.role_id} is not a role of this org`,
        ]);
      }
      if (input.token_type === 'access' && role.role_type !== 'managed') {
        return qwietError(400, 'BAD_REQUEST', 'invalid token request', [
          'access tokens take a managed role from GET /roles',
        ]);
      }
      if (
        caller.roleId === SERVICE_ACCOUNT_ROLE_ID &&
        (input.role_id !== CI_ROLE_ID || input.token_type !== 'access')
      ) {
        return qwietError(
          403,
          'FORBIDDEN',
          `service account tokens can only create CI tokens (role_id ${CI_ROLE_ID}, token_type access)`,
        );
      }
      const { token, value } = store.create(caller.orgId, input);
      return { status: 200, body: { ok: true, response: { value, ...tokenView(token) } } };
    }),

    route('DELETE', '/tokens/:tokenId', 'qwiet.tokens.delete', 'tokens:delete', (r, caller) => {
      const tokenId = r.params.tokenId;
      if (!isUuid(tokenId)) {
        return qwietError(400, 'BAD_REQUEST', 'invalid token id', ['tokenID must be a UUID']);
      }
      if (!store.delete(caller.orgId, tokenId.toLowerCase())) {
        return qwietError(404, 'NOT_FOUND', 'token was not found');
      }
      return { status: 200, body: { ok: true } };
    }),
  ];
}
