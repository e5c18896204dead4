import { octaneErrorBody, OctaneErrorBody } from './octane.errors';
import type { Ref, Resolve } from './octane.model';
import type { NewApiAccess } from './octane.store';

/** Octane's documented rule: 10-30 characters from at least three of upper, lower, digit, special. */
export function meetsVendorSecretRule(secret: string): boolean {
  const classes = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(secret));
  return secret.length >= 10 && secret.length <= 30 && classes.length >= 3;
}

const SECRET_RULE =
  'client_secret must be 10 to 30 characters with at least three of: an upper-case letter, a lower-case letter, a digit, a special character';
/** Not published by Octane; the simulator takes what fits in a client_id. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const CREATE_FIELDS = new Set([
  'type',
  'name',
  'client_secret',
  'expiration',
  'authentication_type',
  'workspace_roles',
  'roles_in_all_workspaces',
]);
const READ_ONLY = new Set(['id', 'client_id', 'creation_time', 'last_modified', 'version_stamp']);
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const invalid = (description: string, field: string): OctaneErrorBody =>
  octaneErrorBody('platform.invalid_field_value', description, { field_name: field }, true);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function secretError(secret: unknown): OctaneErrorBody | undefined {
  if (typeof secret !== 'string' || !meetsVendorSecretRule(secret)) {
    return octaneErrorBody('platform.api_access_invalid_secret', SECRET_RULE, null, true);
  }
  return undefined;
}

export function expirationError(value: unknown, now: number): OctaneErrorBody | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'string' || !ISO_DATE_TIME.test(value) || Number.isNaN(Date.parse(value))) {
    return invalid('expiration must be an ISO-8601 date-time', 'expiration');
  }
  if (Date.parse(value) <= now) return invalid('expiration must be in the future', 'expiration');
  return undefined;
}

function references(
  value: unknown,
  field: string,
  type: string,
  resolve: Resolve,
): Ref[] | OctaneErrorBody {
  if (value === undefined || value === null) return [];
  if (!isObject(value) || !Array.isArray(value.data)) {
    return invalid(`${field} must be {"data": [{"type": "${type}", "id": "..."}]}`, field);
  }
  const refs: Ref[] = [];
  for (const item of value.data) {
    const id = isObject(item) ? item.id : undefined;
    if (
      !isObject(item) ||
      (item.type !== undefined && item.type !== type) ||
      typeof id !== 'string'
    ) {
      return invalid(`${field} items must be {"type": "${type}", "id": "..."}`, field);
    }
    if (!resolve({ type, id })) {
      return octaneErrorBody(
        'platform.entity_not_found',
        `The ${type} with id ${id} does not exist`,
        { entity_type: type, entity_id: id },
        true,
      );
    }
    refs.push({ type, id });
  }
  return refs;
}

/** One entity of a create request: the input to store, or the error to report at its index. */
export function validateNewApiAccess(
  item: unknown,
  resolve: Resolve,
  now: number,
): NewApiAccess | OctaneErrorBody {
  if (!isObject(item)) return invalid('each item of data must be an object', 'data');
  for (const key of Object.keys(item)) {
    if (READ_ONLY.has(key) || key === 'is_valid') {
      return octaneErrorBody(
        'platform.modify_non_editable_field',
        `The field '${key}' cannot be set`,
        { field_name: key },
        true,
      );
    }
    if (!CREATE_FIELDS.has(key)) {
      return octaneErrorBody(
        'platform.unknown_field',
        `The entity type 'api_access' does not have a field/s by name/s '${key}'`,
        { entity_type: 'api_access', field_name: key },
        true,
      );
    }
  }
  if (item.type !== undefined && item.type !== 'api_access')
    return invalid('type must be api_access', 'type');
  if (typeof item.name !== 'string' || !NAME.test(item.name)) {
    return invalid(
      'name is required: 1-100 letters, digits, _ . - starting with a letter or digit',
      'name',
    );
  }
  const secret = secretError(item.client_secret);
  if (secret) return secret;
  const expiration = expirationError(item.expiration, now);
  if (expiration) return expiration;
  const authType = item.authentication_type ?? 0;
  if (authType !== 0 && authType !== 1) {
    return invalid(
      'authentication_type must be 0 (credential) or 1 (token)',
      'authentication_type',
    );
  }
  const workspaceRoles = references(
    item.workspace_roles,
    'workspace_roles',
    'workspace_role',
    resolve,
  );
  if (!Array.isArray(workspaceRoles)) return workspaceRoles;
  const allWorkspaces = references(
    item.roles_in_all_workspaces,
    'roles_in_all_workspaces',
    'role',
    resolve,
  );
  if (!Array.isArray(allWorkspaces)) return allWorkspaces;
  return {
    name: item.name,
    client_secret: item.client_secret as string,
    expiration: (item.expiration as string | undefined) ?? undefined,
    authentication_type: authType,
    workspace_roles: workspaceRoles,
    roles_in_all_workspaces: allWorkspaces,
  };
}

export type ApiAccessUpdate =
  | { kind: 'revoke' }
  | { kind: 'regenerate'; secret: string }
  | { kind: 'expiration'; expiration: string | null }
  | { kind: 'error'; status: number; error: OctaneErrorBody };

/** A PUT on one api_access: revoke (`is_valid:false`), regenerate (new `client_secret`), or a new expiration. */
export function validateUpdate(
  body: unknown,
  current: { id: string; isValid: boolean },
  now: number,
): ApiAccessUpdate[] {
  const error = (status: number, e: OctaneErrorBody): ApiAccessUpdate[] => [
    { kind: 'error', status, error: e },
  ];
  if (!isObject(body))
    return error(400, invalid('request body must be an api_access object', 'body'));
  for (const key of Object.keys(body)) {
    if ((key === 'id' && body.id === current.id) || (key === 'type' && body.type === 'api_access'))
      continue;
    if (READ_ONLY.has(key) || key === 'name' || key === 'type' || key === 'id') {
      return error(
        403,
        octaneErrorBody(
          'platform.modify_non_editable_field',
          `The field '${key}' is not editable`,
          { field_name: key },
          true,
        ),
      );
    }
    if (!['is_valid', 'client_secret', 'expiration'].includes(key)) {
      return error(
        400,
        octaneErrorBody(
          'platform.unknown_field',
          `The entity type 'api_access' does not have a field/s by name/s '${key}'`,
          { entity_type: 'api_access', field_name: key },
          true,
        ),
      );
    }
  }
  const updates: ApiAccessUpdate[] = [];
  if (body.expiration !== undefined) {
    const e = expirationError(body.expiration, now);
    if (e) return error(400, e);
    updates.push({ kind: 'expiration', expiration: body.expiration as string | null });
  }
  if (body.is_valid !== undefined && typeof body.is_valid !== 'boolean') {
    return error(400, invalid('is_valid must be a boolean', 'is_valid'));
  }
  if (body.is_valid === false) {
    if (body.client_secret !== undefined) {
      return error(400, invalid('a revoked key takes no client_secret', 'client_secret'));
    }
    updates.push({ kind: 'revoke' });
  } else if (body.client_secret !== undefined) {
    const e = secretError(body.client_secret);
    if (e) return error(400, e);
    updates.push({ kind: 'regenerate', secret: body.client_secret as string });
  } else if (body.is_valid === true && !current.isValid) {
    return error(
      400,
      invalid('re-validating a revoked key needs a new client_secret', 'client_secret'),
    );
  }
  return updates;
}
