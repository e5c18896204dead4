import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminRoutes, AdminDeps } from './admin/admin.routes';
import { SimClock } from './clock';
import { Fault, FaultInjector } from './faults/faults';
import { readBody } from './http/body';
import { Router, SimResponse, Vendor } from './http/router';
import { octaneErrorForStatus } from './octane/octane.errors';
import { octaneRoutes } from './octane/octane.routes';
import { OctaneSessions, SessionOptions } from './octane/octane.sessions';
import { OctaneSpaceConfig, OctaneStore, OctaneUserConfig } from './octane/octane.store';
import { qwietErrorForStatus } from './qwiet/qwiet.errors';
import { qwietRoutes } from './qwiet/qwiet.routes';
import { QwietOrgConfig, QwietStore } from './qwiet/qwiet.store';

export interface SimulatorOptions {
  qwietOrgs: QwietOrgConfig[];
  octaneSpaces: OctaneSpaceConfig[];
  octaneUsers?: OctaneUserConfig[];
  /** Serve `/__sim/*` (state, reset, faults, clock). Off unless a test or demo asks for it. */
  admin?: boolean;
  requireTechPreview?: boolean;
  session?: Partial<SessionOptions>;
}

const DEFAULT_SESSION: SessionOptions = {
  idleTimeoutMs: 15 * 60 * 1000,
  rotateAfterMs: 0,
  rotationGraceMs: 2000,
};

function vendorOf(path: string): Vendor | undefined {
  if (path.startsWith('/api/v4/')) return 'qwiet';
  if (path.startsWith('/api/shared_spaces/') || path.startsWith('/authentication/'))
    return 'octane';
  if (path.startsWith('/__sim/')) return 'admin';
  return undefined;
}

function errorFor(vendor: Vendor | undefined, status: number, message?: string): SimResponse {
  if (vendor === 'qwiet') return qwietErrorForStatus(status, message);
  if (vendor === 'octane') return octaneErrorForStatus(status, message);
  return { status, body: { error: message ?? `HTTP ${status}` } };
}

/** Both vendors in one HTTP server: Qwiet under /api/v4, Octane under /authentication and /api/shared_spaces. */
export class UpstreamSimulator {
  readonly clock = new SimClock();
  readonly faults = new FaultInjector();
  readonly qwiet: QwietStore;
  readonly octane: OctaneStore;
  readonly sessions: OctaneSessions;
  private readonly router = new Router();
  private readonly requestCounts = new Map<string, number>();
  private readonly hung = new Set<ServerResponse>();
  private readonly server: Server;

  private constructor(private readonly options: SimulatorOptions) {
    this.qwiet = new QwietStore(this.clock, options.qwietOrgs);
    this.octane = new OctaneStore(this.clock, options.octaneSpaces, options.octaneUsers ?? []);
    this.sessions = new OctaneSessions(this.clock, { ...DEFAULT_SESSION, ...options.session });
    const routes = [
      ...qwietRoutes(this.qwiet),
      ...octaneRoutes(this.octane, this.sessions, this.clock, {
        requireTechPreview: options.requireTechPreview ?? false,
      }),
      ...(options.admin ? adminRoutes(this.adminDeps()) : []),
    ];
    for (const route of routes) this.router.add(route);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) this.send(res, errorFor(vendorOf(req.url ?? ''), 500));
        process.emitWarning(`upstream-sim: ${String(error)}`);
      });
    });
    this.server.keepAliveTimeout = 65_000;
  }

  static async start(
    options: SimulatorOptions,
    port = 0,
    host = '127.0.0.1',
  ): Promise<UpstreamSimulator> {
    const sim = new UpstreamSimulator(options);
    await new Promise<void>((resolve, reject) => {
      sim.server.once('error', reject);
      sim.server.listen(port, host, () => resolve());
    });
    return sim;
  }

  get url(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  }

  /** Back to the fixtures: no issued credentials, no sessions, no faults, clock and counters at zero. */
  reset(): void {
    this.qwiet.reset();
    this.octane.reset();
    this.sessions.reset();
    this.faults.clear();
    this.clock.reset();
    this.requestCounts.clear();
  }

  requestCount(op: string): number {
    return this.requestCounts.get(op) ?? 0;
  }

  async close(): Promise<void> {
    for (const res of this.hung) res.socket?.destroy();
    this.hung.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private adminDeps(): AdminDeps {
    return {
      clock: this.clock,
      faults: this.faults,
      qwiet: this.qwiet,
      octane: this.octane,
      sessions: this.sessions,
      requestCounts: this.requestCounts,
      reset: () => this.reset(),
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path, search = ''] = (req.url ?? '/').split('?', 2);
    const vendor = vendorOf(path);
    const match = this.router.match(req.method ?? 'GET', path);
    if (match.kind === 'not_found') {
      req.resume();
      return this.send(res, errorFor(vendor, 404));
    }
    if (match.kind === 'method_not_allowed') {
      req.resume();
      const response = errorFor(vendor, 405);
      return this.send(res, { ...response, headers: { allow: match.allowed.join(', ') } });
    }
    const { route, params } = match;
    this.requestCounts.set(route.op, (this.requestCounts.get(route.op) ?? 0) + 1);
    const fault = route.vendor === 'admin' ? undefined : this.faults.take(route.op);

    const body = await readBody(req);
    if (body.kind === 'invalid') return this.send(res, errorFor(route.vendor, 400, body.reason));

    if (fault && (await this.applyFaultBefore(fault, req, res))) return;

    const keep = fault?.kind === 'revoke_ignored' ? this.keepWorking(route.op, params) : undefined;
    const response = await route.handler({
      req,
      res,
      op: route.op,
      vendor: route.vendor,
      params,
      query: new URLSearchParams(search),
      body: body.kind === 'json' ? body.value : undefined,
    });
    keep?.();
    if (fault?.kind === 'lost_answer')
      return this.send(res, this.faultResponse(fault, route.vendor));
    this.send(res, response);
  }

  /**
   * The `revoke_ignored` fault: the revocation is answered as the vendor answers it, then undone,
   * so the credential keeps working. Returns what puts the credential back as it was.
   */
  private keepWorking(op: string, params: Record<string, string>): (() => void) | undefined {
    if (op === 'qwiet.tokens.delete') {
      const token = this.qwiet.all().find((t) => t.id === params.tokenId?.toLowerCase());
      if (!token || token.revokedAt !== undefined) return undefined;
      return () => {
        token.revokedAt = undefined;
      };
    }
    if (op === 'octane.api_accesses.update') {
      const access = this.octane.apiAccess(params.spaceId ?? '', params.id ?? '');
      if (!access || access.entity.is_valid !== true) return undefined;
      return () => {
        access.revokedAt = undefined;
        access.entity.is_valid = true;
      };
    }
    return undefined;
  }

  /** Applies a fault ahead of the handler; true when the request has been answered (or dropped). */
  private async applyFaultBefore(
    fault: Fault,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<boolean> {
    switch (fault.kind) {
      case 'latency':
        await new Promise((resolve) => setTimeout(resolve, fault.latency_ms ?? 0));
        return false;
      case 'status':
        if (fault.latency_ms) await new Promise((resolve) => setTimeout(resolve, fault.latency_ms));
        this.send(res, this.faultResponse(fault, vendorOf(req.url ?? '')));
        return true;
      case 'reset':
        req.socket.destroy();
        return true;
      case 'hang':
        this.hung.add(res);
        res.on('close', () => this.hung.delete(res));
        return true;
      case 'expire_session':
        this.sessions.expire(req);
        return false;
      case 'lost_answer':
      case 'revoke_ignored':
        return false;
    }
  }

  private faultResponse(fault: Fault, vendor: Vendor | undefined): SimResponse {
    const status = fault.status ?? 500;
    return fault.body === undefined ? errorFor(vendor, status) : { status, body: fault.body };
  }

  private send(res: ServerResponse, response: SimResponse): void {
    if (res.writableEnded || res.destroyed) return;
    const payload = response.body === undefined ? '' : JSON.stringify(response.body);
    res.statusCode = response.status;
    for (const [name, value] of Object.entries(response.headers ?? {})) res.setHeader(name, value);
    if (payload) res.setHeader('content-type', 'application/json');
    res.setHeader('content-length', Buffer.byteLength(payload));
    res.end(payload);
  }
}
