import type { Entity } from './octane.model';

/**
 * The roles, workspaces and workspace roles of Octane's "API access keys" page examples
 * (shared space 1001, workspaces 1002 and 1003). Role ids are per installation in real Octane.
 */
const STAMP = '2021-04-28T11:29:44Z';

export const SPACE_ADMIN_ROLE_ID = '1015';
export const SPACE_ADMIN_WORKSPACE_ROLE_ID = '1009';

const ROLES: [id: string, logicalName: string, name: string][] = [
  ['1015', 'role.shared.space.admin', 'Space Admin'],
  ['1007', 'role.workspace.admin', 'Workspace Admin'],
  ['1002', 'role.workspace.ci_cd_agent.configure', 'CI/CD Integration'],
  ['1005', 'role.workspace.devops.admin', 'DevOps Admin'],
  ['1001', 'role.workspace.leader', 'Team Leader'],
  ['1003', 'role.workspace.team.member', 'Team Member'],
  ['1004', 'role.workspace.tester', 'Tester'],
  ['1006', 'role.workspace.spm.integration', 'SPM Integration'],
];

const WORKSPACES: [id: string, name: string][] = [
  ['1002', 'default_workspace'],
  ['1003', 'payments_workspace'],
];

/** [workspace_role id, role id, workspace id or null for the shared-space level]. */
const WORKSPACE_ROLES: [string, string, string | null][] = [
  [SPACE_ADMIN_WORKSPACE_ROLE_ID, SPACE_ADMIN_ROLE_ID, null],
  ['1027', '1002', '1002'],
  ['1028', '1005', '1002'],
  ['1029', '1001', '1002'],
  ['1030', '1003', '1002'],
  ['1031', '1004', '1002'],
  ['1032', '1006', '1002'],
  ['1033', '1007', '1002'],
  ['1034', '1002', '1003'],
  ['1035', '1005', '1003'],
  ['1036', '1003', '1003'],
  ['1037', '1007', '1003'],
];

export function roleEntities(sharedSpaceId: string): Entity[] {
  return ROLES.map(([id, logical_name, name]) => ({
    type: 'role',
    logical_name,
    based_on_system: null,
    last_modified: STAMP,
    workspace_id: Number(sharedSpaceId),
    id,
    is_system: true,
    name,
    version_stamp: 1,
    creation_time: STAMP,
  }));
}

export function workspaceEntities(): Entity[] {
  return WORKSPACES.map(([id, name]) => ({
    type: 'workspace',
    id,
    name,
    creation_time: STAMP,
    last_modified: STAMP,
    version_stamp: 1,
  }));
}

export function workspaceRoleEntities(): Entity[] {
  return WORKSPACE_ROLES.map(([id, role, workspace]) => ({
    type: 'workspace_role',
    id,
    role: { type: 'role', id: role },
    workspace: workspace === null ? null : { type: 'workspace', id: workspace },
  }));
}

export const DEFAULT_OCTANE_SHARED_SPACE_IDS = ['1001', '2001'];
