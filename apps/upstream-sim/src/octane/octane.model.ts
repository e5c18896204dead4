/** Octane entities as the simulator keeps them: references are `{type, id}`, multi-references arrays of them. */
export interface Ref {
  type: string;
  id: string;
}

export interface Entity {
  type: string;
  id: string;
  [field: string]: unknown;
}

export type FieldKind = 'plain' | 'ref' | 'multi_ref';

export interface EntityModel {
  readonly type: string;
  readonly fields: Readonly<Record<string, FieldKind>>;
  /** Fields returned even when `fields=` does not ask for them (besides `type` and `id`). */
  readonly alwaysReturned: readonly string[];
  /** Sub-fields shown when an entity of this type appears as a reference. */
  readonly refFields: readonly string[];
}

const AUDITED = { creation_time: 'plain', last_modified: 'plain', version_stamp: 'plain' } as const;

export const MODELS: Readonly<Record<string, EntityModel>> = {
  role: {
    type: 'role',
    fields: {
      logical_name: 'plain',
      name: 'plain',
      based_on_system: 'plain',
      workspace_id: 'plain',
      is_system: 'plain',
      ...AUDITED,
    },
    alwaysReturned: [],
    refFields: ['logical_name', 'name'],
  },
  workspace: {
    type: 'workspace',
    fields: { name: 'plain', ...AUDITED },
    alwaysReturned: [],
    refFields: ['name'],
  },
  workspace_role: {
    type: 'workspace_role',
    fields: { role: 'ref', workspace: 'ref' },
    alwaysReturned: [],
    refFields: [],
  },
  api_access: {
    type: 'api_access',
    fields: {
      name: 'plain',
      client_id: 'plain',
      is_valid: 'plain',
      expiration: 'plain',
      authentication_type: 'plain',
      workspace_roles: 'multi_ref',
      roles_in_all_workspaces: 'multi_ref',
      ...AUDITED,
    },
    alwaysReturned: ['is_valid'],
    refFields: ['name'],
  },
};

export type Resolve = (ref: Ref) => Entity | undefined;

/** The kind of a field the model has; undefined for anything else (including `valueOf`, `__proto__`...). */
export function fieldKind(model: EntityModel, name: string): FieldKind | undefined {
  return Object.hasOwn(model.fields, name) ? model.fields[name] : undefined;
}
