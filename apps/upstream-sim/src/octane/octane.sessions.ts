import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { SimClock } from '../clock';
import type { ApiAccess } from './octane.store';

export const SESSION_COOKIE = 'LWSSO_COOKIE_KEY';
export const USER_COOKIE = 'OCTANE_USER';

export type Principal = { kind: 'api_access'; access: ApiAccess } | { kind: 'user'; name: string };

interface Session {
  principal: Principal;
  issuedAt: number;
  lastSeen: number;
  /** Set when a rotation replaced this cookie: it stops working after the grace period. */
  retiredAt?: number;
  expired: boolean;
}

export interface SessionOptions {
  idleTimeoutMs: number;
  /** Re-issue the cookie (Set-Cookie on a normal response) once it is this old; 0 = never. */
  rotateAfterMs: number;
  /** How long a rotated-out cookie still works, so requests already in flight succeed. */
  rotationGraceMs: number;
}

export type SessionCheck =
  | { kind: 'ok'; principal: Principal; setCookie?: string[] }
  | { kind: 'missing' }
  | { kind: 'expired' };

export function parseCookies(req: IncomingMessage): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) cookies.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return cookies;
}

/** LWSSO sessions: cookie issued at sign-in, idle expiry, optional rotation. */
export class OctaneSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly forcedRotation = new Set<string>();
  signIns = 0;

  constructor(
    private readonly clock: SimClock,
    readonly options: SessionOptions,
  ) {}

  reset(): void {
    this.sessions.clear();
    this.forcedRotation.clear();
    this.signIns = 0;
  }

  signIn(principal: Principal): string[] {
    this.signIns++;
    return this.issue(principal);
  }

  signOut(req: IncomingMessage): string[] {
    const cookie = parseCookies(req).get(SESSION_COOKIE);
    if (cookie) this.sessions.delete(cookie);
    return [
      `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly`,
      `${USER_COOKIE}=; Path=/; Max-Age=0`,
    ];
  }

  check(req: IncomingMessage, stillValid: (p: Principal) => boolean): SessionCheck {
    const cookie = parseCookies(req).get(SESSION_COOKIE);
    const session = cookie === undefined ? undefined : this.sessions.get(cookie);
    if (!cookie || !session) return { kind: 'missing' };
    const now = this.clock.now();
    if (
      session.expired ||
      now - session.lastSeen > this.options.idleTimeoutMs ||
      (session.retiredAt !== undefined && now - session.retiredAt > this.options.rotationGraceMs)
    ) {
      session.expired = true;
      return { kind: 'expired' };
    }
    if (!stillValid(session.principal)) {
      this.sessions.delete(cookie);
      return { kind: 'missing' };
    }
    session.lastSeen = now;
    const rotate =
      session.retiredAt === undefined &&
      (this.forcedRotation.delete(cookie) ||
        (this.options.rotateAfterMs > 0 && now - session.issuedAt >= this.options.rotateAfterMs));
    if (!rotate) return { kind: 'ok', principal: session.principal };
    session.retiredAt = now;
    return { kind: 'ok', principal: session.principal, setCookie: this.issue(session.principal) };
  }

  /** Expires every live session now: the next request with any of them gets Octane's 401. */
  expireAll(): number {
    let n = 0;
    for (const session of this.sessions.values()) {
      if (!session.expired) n++;
      session.expired = true;
    }
    return n;
  }

  expire(req: IncomingMessage): void {
    const cookie = parseCookies(req).get(SESSION_COOKIE);
    const session = cookie === undefined ? undefined : this.sessions.get(cookie);
    if (session) session.expired = true;
  }

  /** The next request on each live session gets a new cookie. */
  rotateAll(): number {
    for (const [cookie, session] of this.sessions) {
      if (!session.expired && session.retiredAt === undefined) this.forcedRotation.add(cookie);
    }
    return this.forcedRotation.size;
  }

  active(): number {
    return [...this.sessions.values()].filter((s) => !s.expired && s.retiredAt === undefined)
      .length;
  }

  private issue(principal: Principal): string[] {
    const cookie = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    this.sessions.set(cookie, { principal, issuedAt: now, lastSeen: now, expired: false });
    const user = principal.kind === 'user' ? principal.name : principal.access.entity.client_id;
    return [
      `${SESSION_COOKIE}=${cookie}; Path=/; HttpOnly`,
      `${USER_COOKIE}=${encodeURIComponent(String(user))}; Path=/`,
    ];
  }
}
