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
import { SessionStore } from './session.store';

/**
 * Whether the console is served over https, which decides the cookies' names and Secure: the
 * scheme of OIDC_REDIRECT_URL when set, else the request's (X-Forwarded-Proto only from a
 * TRUST_PROXY hop).
 */
export function servedOverHttps(config: GatewayConfig, protocol: string | undefined): boolean {
  const fixed = config.signIn.oidc?.redirectUrl;
  return fixed ? new URL(fixed).protocol === 'https:' : protocol === 'https';
}

export const cookiesFor = (config: GatewayConfig, protocol: string | undefined): CookieNames =>
  cookieNames(servedOverHttps(config, protocol));

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
    const id = readCookie(request.headers, cookiesFor(this.config, request.protocol).session);
    if (id === undefined) return undefined;
    const live = await this.store.touch(id);
    if (!live) throw new AuthenticationError('the session has ended or expired: sign in again');
    return { caller: live.caller, csrfToken: live.csrfToken };
  }
}
