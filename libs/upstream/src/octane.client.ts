import { VendorCircuit } from './circuit';
import { OctaneCredentials, OctaneSession } from './octane.session';
import {
  TransportOptions,
  VendorHttp,
  vendorPath,
  VendorResponse,
  vendorResponse,
} from './vendor-http';

export interface OctaneUpstreamConfig {
  /** Server root, e.g. https://almoctane-eur.saas.microfocus.com */
  baseUrl: string;
  /** The API key Keygate signs in with, by shared space id. */
  sharedSpaces: Readonly<Record<string, OctaneCredentials>>;
}

/** Collection parameters Octane understands; the gateway validates them before they get here. */
export interface OctaneListQuery {
  fields?: string;
  query?: string;
  limit?: number;
  offset?: number;
  order_by?: string;
}

const TECH_PREVIEW = { 'ALM-OCTANE-TECH-PREVIEW': 'true' };

/** ALM Octane shared-space roles, workspace roles and api_accesses, over one session per space. */
export class OctaneClient {
  private readonly http: VendorHttp;
  private readonly sessions = new Map<string, OctaneSession>();
  readonly circuit: VendorCircuit;

  constructor(config: OctaneUpstreamConfig, transport: TransportOptions) {
    this.http = new VendorHttp('octane', config.baseUrl, transport);
    this.circuit = new VendorCircuit('octane', transport.circuit);
    for (const [spaceId, credentials] of Object.entries(config.sharedSpaces)) {
      this.sessions.set(spaceId, new OctaneSession(this.http, credentials));
    }
  }

  /** Closes kept-alive sockets and the circuit's timers (Nest calls it once the server has finished its requests). */
  onApplicationShutdown(): void {
    this.circuit.shutdown();
    this.http.close();
  }

  servesSharedSpace(spaceId: string): boolean {
    return this.sessions.has(spaceId);
  }

  /** Sign-ins so far, all shared spaces together. */
  get signIns(): number {
    return [...this.sessions.values()].reduce((n, s) => n + s.signIns, 0);
  }

  listRoles(spaceId: string, query: OctaneListQuery): Promise<VendorResponse> {
    return this.send('roles.list', 'GET', spaceId, ['roles'], { params: query });
  }

  listWorkspaceRoles(spaceId: string, query: OctaneListQuery): Promise<VendorResponse> {
    return this.send('workspace_roles.list', 'GET', spaceId, ['workspace_roles'], {
      params: query,
    });
  }

  listApiAccesses(spaceId: string, query: OctaneListQuery): Promise<VendorResponse> {
    return this.send('api_accesses.list', 'GET', spaceId, ['api_accesses'], {
      params: query,
      techPreview: true,
    });
  }

  getApiAccess(spaceId: string, id: string, fields?: string): Promise<VendorResponse> {
    return this.send('api_accesses.get', 'GET', spaceId, ['api_accesses', id], {
      params: { fields },
      techPreview: true,
    });
  }

  createApiAccess(spaceId: string, body: object, fields?: string): Promise<VendorResponse> {
    return this.send('api_accesses.create', 'POST', spaceId, ['api_accesses'], {
      params: { fields },
      data: body,
      techPreview: true,
    });
  }

  updateApiAccess(
    spaceId: string,
    id: string,
    body: object,
    fields?: string,
  ): Promise<VendorResponse> {
    return this.send('api_accesses.update', 'PUT', spaceId, ['api_accesses', id], {
      params: { fields },
      data: body,
      techPreview: true,
    });
  }

  /** Whether Octane accepts this API key (a sign-in with it succeeds): proof of what a secret opens. */
  acceptsKey(clientId: string, secret: string): Promise<boolean> {
    return new OctaneSession(this.http, { clientId, clientSecret: secret }).accepted();
  }

  private async send(
    operation: string,
    method: 'GET' | 'POST' | 'PUT',
    spaceId: string,
    path: string[],
    extra: { params?: object; data?: object; techPreview?: boolean },
  ): Promise<VendorResponse> {
    const session = this.sessions.get(spaceId);
    if (!session) throw new Error(`no Octane credential for shared space ${spaceId}`);
    const op = `octane.${operation}`;
    const response = await this.circuit.run(op, () =>
      session.request(op, {
        method,
        url: vendorPath('api', 'shared_spaces', spaceId, ...path),
        params: extra.params,
        data: extra.data,
        headers: extra.techPreview ? TECH_PREVIEW : undefined,
      }),
    );
    return vendorResponse(response, 'octane', op);
  }
}
