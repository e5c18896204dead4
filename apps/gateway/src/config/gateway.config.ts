import type { AuthConfig } from '@app/auth';
import type { OctaneUpstreamConfig, QwietUpstreamConfig, TransportOptions } from '@app/upstream';

export interface GatewayConfig {
  http: { host: string; port: number; bodyLimit: string };
  auth: AuthConfig;
  qwiet: QwietUpstreamConfig;
  octane: OctaneUpstreamConfig;
  transport: TransportOptions;
  /** The token policy file (YAML); teams, scopes and rules live there. */
  policyFile: string;
  log: { level: string };
}
