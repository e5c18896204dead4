import { Inject, Injectable } from '@nestjs/common';
import {
  AuthenticatedSession,
  AuthenticationError,
  SessionAuthenticator,
  SessionRequest,
} from '@app/auth';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { cookieNames, CookieNames, readCookie } from './cookies';
import { isLoopbackUrl } from './sign-in.config';
import { SessionStore } from './session.store';

/**
 * Whether the console is served over https, which decides the cookies' names and Secure: the
 * scheme of OIDC_REDIRECT_URL when set, else the request's (X-Forwarded-Proto only from a
 * TRUST_PROXY hop). Plain http is believed only for a loopback host (`npm start`): any other host
 * reached over plain http is taken as https behind a TLS proxy Keygate was not told to trust, so
 * its cookies are still `__Host-` and Secure (a browser really on plain http refuses them: the
 * sign-in fails closed rather than sending the session in clear).
 */
export function servedOverHttps(
  config: GatewayConfig,
  protocol: string | undefined,
  host: string | undefined,
): boolean {
  const fixed = config.signIn.oidc?.redirectUrl;
  if (fixed) return new URL(fixed).protocol === 'https:';
  return protocol === 'https' || !isLoopbackHost(host);
}

/** Whether a Host header names the machine itself (127.0.0.0/8, localhost, [::1]). */
function isLoopbackHost(host: string | undefined): boolean {
  if (typeof host !== 'string' || host === '') return false;
  try {
    return isLoopbackUrl(new URL(`http://${host}`));
  } catch {
    return false;
  }
}

export const cookiesFor = (
  config: GatewayConfig,
  request: { protocol?: string; host?: string },
): CookieNames => cookieNames(servedOverHttps(config, request.protocol, request.host));

/** The AuthGuard's view of the console's sessions (asked only when there is no bearer). */
@Injectable()
export class GatewaySessionAuthenticator extends SessionAuthenticator {
  constructor(
    private readonly store: SessionStore,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {
    super();
  }

  async authenticate(request: SessionRequest): Promise<AuthenticatedSession | undefined> {
    // Without OIDC no session can exist: no cookie is read, nothing is asked of the database.
    if (!this.config.signIn.oidc) return undefined;
    const id = readCookie(request.headers, cookiesFor(this.config, request).session);
    if (id === undefined) return undefined;
    const live = await this.store.touch(id);
    if (!live) throw new AuthenticationError('the session has ended or expired: sign in again');
    return { caller: live.caller, csrfToken: live.csrfToken };
  }
}
