import type { IncomingHttpHeaders } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Caller } from './caller';

/** The request as the AuthGuard hands it to the session authenticator. */
export interface SessionRequest {
  headers: IncomingHttpHeaders;
  /** `http` or `https` as the server sees it (behind TRUST_PROXY: X-Forwarded-Proto). */
  protocol?: string;
  /** The Host the request was sent to (behind TRUST_PROXY: X-Forwarded-Host). */
  host?: string;
}

/** A live console session: who, and the CSRF token its state-changing requests must carry. */
export interface AuthenticatedSession {
  caller: Caller;
  csrfToken: string;
}

/**
 * The console's session cookie, as the gateway keeps sessions (apps/gateway/src/session). The
 * AuthGuard asks it only when a request has no Authorization header: a bearer always wins.
 */
export abstract class SessionAuthenticator {
  /**
   * `undefined` when the request carries no session cookie; the session when it is live (the
   * call counts as activity); AuthenticationError when the cookie names no live session (unknown,
   * ended, idle or past its absolute timeout).
   */
  abstract authenticate(request: SessionRequest): Promise<AuthenticatedSession | undefined>;
}

/** Requests that change state need the session's CSRF token (X-CSRF-Token). */
export const STATE_CHANGING_METHODS: ReadonlySet<string> = new Set([
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
]);

export const CSRF_HEADER = 'x-csrf-token';

/** Whether `presented` is the session's token: compared in constant time (digests of both). */
export function csrfTokenMatches(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string' || presented.length === 0 || presented.length > 512)
    return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
