/** The console's sign-in (README "Console sign-in"): OpenID Connect and the session timeouts. */
export interface SignInConfig {
  /** Unset (no OIDC_ISSUER): no console sign-in; bearer callers only. */
  oidc?: OidcConfig;
  /** SESSION_IDLE_SECONDS: a session unused this long is refused and deleted. */
  idleSeconds: number;
  /** SESSION_ABSOLUTE_SECONDS: a session this old is refused and deleted, however active. */
  absoluteSeconds: number;
}

export interface OidcConfig {
  issuer: string;
  clientId: string;
  /** Never logged. */
  clientSecret: string;
  teamClaim: string;
  rolesClaim: string;
  /** OIDC_REDIRECT_URL; unset: derived from each request (`<scheme>://<host>/auth/callback`). */
  redirectUrl?: string;
  /**
   * Whether a provider whose discovery says `keygate_dev: true` may be used: false from the
   * environment (production refuses the development provider); only `npm start`'s embedded
   * default, which starts that provider, and the tests set it.
   */
  allowDevelopmentProvider: boolean;
}

export const DEFAULT_IDLE_SECONDS = 30 * 60;
export const DEFAULT_ABSOLUTE_SECONDS = 12 * 3600;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether a URL's host is the machine itself (where plain http is tolerated, in development). */
export function isLoopbackUrl(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname) || /^127(\.\d{1,3}){3}$/.test(url.hostname);
}
