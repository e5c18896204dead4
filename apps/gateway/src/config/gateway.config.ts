import type { AuthConfig } from '@app/auth';
import type { OctaneUpstreamConfig, QwietUpstreamConfig, TransportOptions } from '@app/upstream';

/** What a team may reach: its Qwiet orgs and Octane shared spaces. */
export interface TeamScope {
  qwietOrgs: string[];
  octaneSharedSpaces: string[];
}

export interface GatewayConfig {
  http: { host: string; port: number; bodyLimit: string };
  auth: AuthConfig;
  qwiet: QwietUpstreamConfig;
  octane: OctaneUpstreamConfig;
  transport: TransportOptions;
  teams: Record<string, TeamScope>;
  log: { level: string };
}
