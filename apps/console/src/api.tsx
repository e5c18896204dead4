/*
 * Talking to the gateway: same-origin fetches with the session cookie (the browser holds nothing
 * else), the CSRF token from GET /auth/session on every state-changing request, and Keygate's
 * error envelopes (Qwiet's `code`/`message`, Octane's `error_code`/`description`, both with
 * `violations`) turned into one ApiError the pages can explain in plain words.
 */

export interface Session {
  subject: string;
  team: string;
  roles: string[];
  csrfToken: string;
  expiresAt?: string;
}

/** One rule a request broke (POLICY_VIOLATION, QUOTA_EXCEEDED) or would break (explain). */
export interface Finding {
  rule: string;
  message: string;
  limit?: unknown;
  actual?: unknown;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly violations: Finding[] = [],
    readonly requestId?: string,
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

let csrfToken = '';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);

/** The signed-in caller, or null when there is no session (401). */
export async function loadSession(): Promise<Session | null> {
  const res = await fetch('/auth/session', {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
  });
  if (res.status === 401) return null;
  if (!res.ok) throw await toError(res);
  const body = (await res.json()) as Record<string, unknown>;
  // The fields of GET /auth/session (README, Console sign-in).
  const session: Session = {
    subject: str(body.subject) ?? '',
    team: str(body.team) ?? '',
    roles: Array.isArray(body.roles)
      ? body.roles.filter((r): r is string => typeof r === 'string')
      : [],
    csrfToken: str(body.csrf_token) ?? '',
    expiresAt: str(body.expires_at),
  };
  csrfToken = session.csrfToken;
  return session;
}

/**
 * Ends the session server-side (POST /auth/logout with the CSRF token) and goes where the answer
 * says: the provider's end-session page when it has one, else the console's start.
 */
export async function logout(): Promise<void> {
  const answer = await api<{ redirect?: string } | undefined>('POST', '/auth/logout');
  csrfToken = '';
  window.location.assign(answer?.redirect ?? '/console/');
}

async function toError(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    // Not JSON: the status says it all.
  }
  const code = str(body.code) ?? str(body.error_code) ?? `HTTP_${res.status}`;
  const message =
    str(body.message) ??
    str(body.description) ??
    (Array.isArray(body.message) ? body.message.join('; ') : undefined) ??
    res.statusText ??
    'the request failed';
  const violations = Array.isArray(body.violations) ? (body.violations as Finding[]) : [];
  const details = Array.isArray(body.validation_errors)
    ? body.validation_errors.map(String)
    : body.properties && typeof body.properties === 'object'
      ? Object.entries(body.properties as Record<string, unknown>).map(
          ([k, v]) => `${k}: ${String(v)}`,
        )
      : [];
  return new ApiError(
    res.status,
    code,
    message,
    violations,
    res.headers.get('x-request-id') ?? undefined,
    details,
  );
}

/** A JSON call to the gateway. GET is read-only; every other method carries X-CSRF-Token. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await toError(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

let routes: Promise<Set<string>> | undefined;

/**
 * Whether this gateway serves a route (from its OpenAPI document at /docs-json): a section whose
 * route is not there yet is shown as unavailable, never with made-up data.
 */
export async function serves(method: string, path: string): Promise<boolean> {
  routes ??= fetch('/docs-json', { headers: { accept: 'application/json' } })
    .then((res) => (res.ok ? (res.json() as Promise<{ paths?: Record<string, object> }>) : {}))
    .then((doc: { paths?: Record<string, object> }) => {
      const set = new Set<string>();
      for (const [p, ops] of Object.entries(doc.paths ?? {}))
        for (const m of Object.keys(ops)) set.add(`${m.toUpperCase()} ${p}`);
      return set;
    })
    .catch(() => new Set<string>());
  return (await routes).has(`${method} ${path}`);
}

export const ROLES = {
  admin: 'keygate:admin',
  auditor: 'keygate:auditor',
  security: 'keygate:security',
} as const;

export const hasRole = (s: Session, ...roles: string[]) => roles.some((r) => s.roles.includes(r));
