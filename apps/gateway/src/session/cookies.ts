import type { IncomingHttpHeaders } from 'node:http';

/*
 * The console's cookies. Over https (everywhere but the embedded default) they carry the
 * `__Host-` prefix, which the browser accepts only with Secure, Path=/ and no Domain: no sibling
 * host can set or shadow them. Over plain http (loopback, `npm start`) the prefix cannot be used
 * (it needs Secure), so they go by the bare name, without Secure.
 */

export interface CookieNames {
  session: string;
  login: string;
  secure: boolean;
}

const SECURE: CookieNames = {
  session: '__Host-keygate_session',
  login: '__Host-keygate_login',
  secure: true,
};
const PLAIN: CookieNames = { session: 'keygate_session', login: 'keygate_login', secure: false };

export const cookieNames = (secure: boolean): CookieNames => (secure ? SECURE : PLAIN);

/** A cookie's value from the Cookie header (the first of that name), or undefined. */
export function readCookie(headers: IncomingHttpHeaders, name: string): string | undefined {
  const header = headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    // Keygate's values are base64url; anything else is not one of its cookies.
    return /^[A-Za-z0-9_-]{16,128}$/.test(value) ? value : undefined;
  }
  return undefined;
}

/** A Set-Cookie value: HttpOnly, SameSite=Lax, Path=/, Secure when `secure`; Max-Age when given. */
export function setCookie(
  name: string,
  value: string,
  secure: boolean,
  maxAgeSeconds?: number,
): string {
  return [
    `${name}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    ...(secure ? ['Secure'] : []),
    ...(maxAgeSeconds !== undefined ? [`Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`] : []),
  ].join('; ');
}

/** A Set-Cookie value that removes the cookie. */
export const clearCookie = (name: string, secure: boolean): string =>
  `${setCookie(name, '', secure, 0)}; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
