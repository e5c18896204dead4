import { VendorCircuit } from './circuit';
import { UpstreamError } from './upstream.errors';
import {
  TransportOptions,
  VendorHttp,
  vendorPath,
  VendorResponse,
  vendorResponse,
} from './vendor-http';

export interface QwietUpstreamConfig {
  /** e.g. https://app.shiftleft.io/api/v4 */
  baseUrl: string;
  /** The access token Keygate holds for each org it serves, by org id. */
  orgTokens: Readonly<Record<string, string>>;
}

export interface QwietTokenQuery {
  show_expired?: string;
  token_type?: string;
}

/** Qwiet API v4 roles and tokens, with the org's access token that Keygate holds. */
export class QwietClient {
  private readonly http: VendorHttp;
  readonly circuit: VendorCircuit;

  constructor(
    private readonly config: QwietUpstreamConfig,
    private readonly transport: TransportOptions,
  ) {
    this.http = new VendorHttp('qwiet', config.baseUrl, transport);
    this.circuit = new VendorCircuit('qwiet', transport.circuit);
  }

  /** Closes kept-alive sockets and the circuit's timers (Nest calls it once the server has finished its requests). */
  onApplicationShutdown(): void {
    this.circuit.shutdown();
    this.http.close();
  }

  servesOrg(orgId: string): boolean {
    return Object.hasOwn(this.config.orgTokens, orgId);
  }

  listRoles(orgId: string): Promise<VendorResponse> {
    return this.send('roles.list', 'GET', orgId, ['roles']);
  }

  listTokens(orgId: string, query: QwietTokenQuery): Promise<VendorResponse> {
    return this.send('tokens.list', 'GET', orgId, ['tokens'], { params: query });
  }

  createToken(orgId: string, body: object): Promise<VendorResponse> {
    return this.send('tokens.create', 'POST', orgId, ['tokens'], { data: body });
  }

  deleteToken(orgId: string, tokenId: string): Promise<VendorResponse> {
    return this.send('tokens.delete', 'DELETE', orgId, ['tokens', tokenId]);
  }

  private async send(
    operation: string,
    method: 'GET' | 'POST' | 'DELETE',
    orgId: string,
    path: string[],
    extra: { params?: object; data?: object } = {},
  ): Promise<VendorResponse> {
    const token = this.config.orgTokens[orgId];
    if (token === undefined) throw new Error(`no Qwiet credential for org ${orgId}`);
    const op = `qwiet.${operation}`;
    const response = await this.circuit.run(op, () =>
      this.http.send(
        op,
        {
          method,
          url: vendorPath('orgs', orgId, ...path),
          headers: { Authorization: `Bearer ${token}` },
          ...extra,
        },
        this.http.deadline(),
      ),
    );
    if (response.status === 401) {
      throw new UpstreamError(
        'qwiet',
        op,
        'credentials_rejected',
        "Qwiet refused Keygate's access token for this org",
        401,
      );
    }
    return vendorResponse(response, 'qwiet', op);
  }
}
