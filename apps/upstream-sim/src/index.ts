export { UpstreamSimulator } from './simulator';
export type { SimulatorOptions } from './simulator';
export { generatedCredentials, simulatorConfigFromEnv } from './sim.config';
export type { FaultSpec, FaultKind } from './faults/faults';
export type { QwietOrgConfig } from './qwiet/qwiet.store';
export type { OctaneSpaceConfig, OctaneUserConfig } from './octane/octane.store';
export {
  CI_ROLE_ID,
  JIRA_ROLE_ID,
  SUPER_ADMIN_ROLE_ID,
  COLLABORATOR_ROLE_ID,
  MEMBER_ROLE_ID,
} from './qwiet/qwiet.fixtures';
export { meetsVendorSecretRule } from './octane/octane.api-access';
