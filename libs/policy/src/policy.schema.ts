import { NOTIFY_SCHEMA } from './notify';

/** JSON Schema of the policy file: structure and types; the compiler checks what a schema cannot. */
const mode = { enum: ['enforce', 'dry_run'], description: 'enforce denies; dry_run only warns' };
const onExceed = {
  enum: ['deny', 'clamp'],
  description: 'deny (default) or clamp to the cap with a warning',
};
const uuid = {
  type: 'string',
  pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
};
const octaneId = { type: 'string', pattern: '^[0-9]{1,18}$' };
const rule = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties: { mode, ...properties },
});
const list = (items: object) => ({ type: 'array', items, uniqueItems: true });

const ruleSet = {
  type: 'object',
  additionalProperties: false,
  properties: {
    qwiet: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_lifetime: rule(
          {
            max_seconds: { type: 'integer', minimum: 1, maximum: 2147483647 },
            on_exceed: onExceed,
          },
          ['max_seconds'],
        ),
        lifetime_required: rule({}),
        allowed_roles: rule({ role_ids: list(uuid) }, ['role_ids']),
        denied_roles: rule({ role_ids: list(uuid) }, ['role_ids']),
        allowed_token_types: rule({ token_types: list({ enum: ['access', 'integration'] }) }, [
          'token_types',
        ]),
        label_pattern: rule({ pattern: { type: 'string', minLength: 1, maxLength: 500 } }, [
          'pattern',
        ]),
        service_account: rule({ org_ids: list(uuid), ci_role_id: uuid }, ['org_ids']),
      },
    },
    octane: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_expiration: rule(
          { max_days: { type: 'integer', minimum: 1, maximum: 36500 }, on_exceed: onExceed },
          ['max_days'],
        ),
        expiration_required: rule({}),
        allowed_workspace_roles: rule({ workspace_role_ids: list(octaneId) }, [
          'workspace_role_ids',
        ]),
        roles_in_all_workspaces: rule({ role_ids: list(octaneId) }, ['role_ids']),
        secret_strength: rule(
          {
            min_length: { type: 'integer', minimum: 10, maximum: 30 },
            min_classes: { type: 'integer', minimum: 3, maximum: 4 },
            forbid_name: { type: 'boolean' },
            forbid_common: { type: 'boolean' },
          },
          ['min_length', 'min_classes'],
        ),
        name_pattern: rule({ pattern: { type: 'string', minLength: 1, maxLength: 500 } }, [
          'pattern',
        ]),
      },
    },
    quota: {
      type: 'object',
      additionalProperties: false,
      properties: {
        team_per_hour: rule({ max: { type: 'integer', minimum: 0, maximum: 1000000 } }, ['max']),
        subject_per_hour: rule({ max: { type: 'integer', minimum: 0, maximum: 1000000 } }, ['max']),
      },
    },
    revocation: {
      type: 'object',
      additionalProperties: false,
      properties: { other_team: rule({}) },
    },
    drift: {
      type: 'object',
      additionalProperties: false,
      properties: {
        unknown: {
          enum: ['report', 'revoke'],
          description:
            'a credential at the vendor that Keygate never issued: report (default) or revoke',
        },
      },
    },
  },
};

export const POLICY_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Keygate token policy',
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: {
    version: { const: 1 },
    rules: ruleSet,
    notify: NOTIFY_SCHEMA,
    teams: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          qwiet_orgs: list(uuid),
          octane_shared_spaces: list(octaneId),
          rules: ruleSet,
        },
      },
    },
  },
} as const;
