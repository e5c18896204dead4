/**
 * Fixtures from Qwiet's documentation (API v4 tokens pages and OpenAPI examples).
 * Role ids marked "documented" are Qwiet's real ids; the Service Account role's id is not
 * published, so the simulator invents one.
 */
export type Scope = 'roles:list' | 'tokens:list' | 'tokens:create' | 'tokens:delete' | string;

export interface QwietRole {
  id: string;
  label: string;
  description: string;
  role_type: 'managed' | 'org';
  /** Listed by `GET /roles` (only managed token roles are). */
  listed: boolean;
  scopes: Scope[];
}

export const CI_ROLE_ID = '66ad5168-41be-4b6c-9ac5-a30b02229c35'; // documented
export const JIRA_ROLE_ID = '5b588f3a-7fe0-444d-afbb-c0d5ee04139b'; // documented
export const SUPER_ADMIN_ROLE_ID = '6fc50b34-6705-11eb-b610-435a3f7b9ad3'; // documented RBAC role
export const COLLABORATOR_ROLE_ID = 'c46b7cba-6726-11eb-8232-e3aecb012972'; // documented RBAC role
export const MEMBER_ROLE_ID = 'e7ca42af-8dd5-4928-8eb9-28d5e41b5564'; // documented RBAC role
export const SERVICE_ACCOUNT_ROLE_ID = '0a5e7c1d-3b9f-4e62-9d0a-5e7c1d3b9f4e'; // simulator's own

export const TOKEN_ADMIN_SCOPES: Scope[] = [
  'roles:list',
  'tokens:list',
  'tokens:create',
  'tokens:delete',
];

export const QWIET_ROLES: readonly QwietRole[] = [
  {
    id: CI_ROLE_ID,
    label: 'CI Token',
    description: 'Grants permissions required to invoke the Qwiet CLI',
    role_type: 'managed',
    listed: true,
    scopes: ['scans:create', 'apps:list', 'findings:list'],
  },
  {
    id: JIRA_ROLE_ID,
    label: 'Jira plugin',
    description: 'This role grants the token permissions required for the Qwiet Jira Plugin.',
    role_type: 'managed',
    listed: true,
    scopes: ['apps:list', 'findings:list'],
  },
  {
    id: SERVICE_ACCOUNT_ROLE_ID,
    label: 'Service Account',
    description: 'May only create CI tokens (access tokens with the CI Token role).',
    role_type: 'managed',
    listed: false,
    scopes: ['tokens:create', 'tokens:list'],
  },
  {
    id: SUPER_ADMIN_ROLE_ID,
    label: 'Super Admin',
    description: 'Organization owner.',
    role_type: 'org',
    listed: false,
    scopes: [...TOKEN_ADMIN_SCOPES, 'apps:list', 'findings:list', 'scans:create'],
  },
  {
    id: COLLABORATOR_ROLE_ID,
    label: 'Collaborator',
    description: 'May create tokens.',
    role_type: 'org',
    listed: false,
    scopes: ['tokens:create', 'apps:list'],
  },
  {
    id: MEMBER_ROLE_ID,
    label: 'Member',
    description: 'Team member.',
    role_type: 'org',
    listed: false,
    scopes: ['apps:list', 'findings:list'],
  },
];

export const DEFAULT_QWIET_ORG_IDS = [
  '2c0b6f7e-1d5a-4c1f-9a36-8f0f5b1e7d42',
  '7d3e9a14-5b2c-4f8e-a1d6-3c9b8e2f4a51',
];
