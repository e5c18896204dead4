import type { IncomingMessage, ServerResponse } from 'node:http';

export type Vendor = 'qwiet' | 'octane' | 'admin';

export interface SimRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly op: string;
  readonly vendor: Vendor;
  readonly params: Record<string, string>;
  readonly query: URLSearchParams;
  body: unknown;
}

export interface SimResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string | string[]>;
}

export type Handler = (request: SimRequest) => SimResponse | Promise<SimResponse>;

export interface Route {
  readonly method: string;
  readonly pattern: string;
  /** Stable operation name, used by fault injection and request counters. */
  readonly op: string;
  readonly vendor: Vendor;
  readonly handler: Handler;
}

interface CompiledRoute extends Route {
  readonly regex: RegExp;
  readonly paramNames: string[];
}

export type RouteMatch =
  | { kind: 'found'; route: Route; params: Record<string, string> }
  | { kind: 'method_not_allowed'; allowed: string[] }
  | { kind: 'not_found' };

/** A tiny method + path router: `:name` matches one non-empty, percent-decoded segment. */
export class Router {
  private readonly routes: CompiledRoute[] = [];

  add(route: Route): this {
    const paramNames: string[] = [];
    const source = route.pattern
      .split('/')
      .map((segment) => {
        if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        paramNames.push(segment.slice(1));
        return '([^/]+)';
      })
      .join('/');
    this.routes.push({ ...route, regex: new RegExp(`^${source}$`), paramNames });
    return this;
  }

  match(method: string, path: string): RouteMatch {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      for (let i = 0; i < route.paramNames.length; i++) {
        const decoded = safeDecode(m[i + 1]);
        if (decoded === undefined) return { kind: 'not_found' };
        params[route.paramNames[i]] = decoded;
      }
      return { kind: 'found', route, params };
    }
    return allowed.length > 0 ? { kind: 'method_not_allowed', allowed } : { kind: 'not_found' };
  }
}

function safeDecode(segment: string): string | undefined {
  try {
    const decoded = decodeURIComponent(segment);
    // A decoded slash would let one path parameter address another resource.
    return decoded.includes('/') ? undefined : decoded;
  } catch {
    return undefined;
  }
}
