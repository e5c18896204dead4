import { Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { csrfTokenMatches, CSRF_HEADER, Public } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { clearCookie, readCookie, setCookie } from './cookies';
import { failed, OidcSignIn } from './oidc.client';
import { cookiesFor, servedOverHttps } from './session.authenticator';
import { LOGIN_REQUEST_SECONDS, LiveSession, SessionStore } from './session.store';

/** Where the console lives; where a sign-in and a logout land by default. */
export const CONSOLE_HOME = '/console/';
/** `return_to`: a path under /console only (no scheme, no host, no `//`, no backslash). */
const RETURN_TO = /^\/console(?:\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$/;
/** A Host header that can be put in a URL as it is. */
const HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

/**
 * `return_to` as the browser will follow it, when that stays under /console: dot segments
 * (`/console/../v1/...`, `%2e%2e` too) are resolved as a browser resolves them first.
 */
function consolePath(asked: unknown): string | undefined {
  if (typeof asked !== 'string' || !RETURN_TO.test(asked) || asked.includes('//')) return undefined;
  const base = 'http://keygate.invalid';
  const url = new URL(asked, base);
  if (url.origin !== base) return undefined;
  if (url.pathname !== '/console' && !url.pathname.startsWith('/console/')) return undefined;
  return `${url.pathname}${url.search}`;
}

const sessionView = (s: LiveSession) => ({
  subject: s.caller.subject,
  team: s.caller.team,
  roles: s.caller.roles,
  via: 'session',
  csrf_token: s.csrfToken,
  created_at: s.createdAt.toISOString(),
  expires_at: s.expiresAt.toISOString(),
  idle_expires_at: s.idleExpiresAt.toISOString(),
});

/**
 * The console's sign-in (README "Console sign-in"): a backend-for-frontend. The tokens stay here;
 * the browser gets a session cookie holding a random id.
 */
@ApiTags('Console sign-in')
@Controller('auth')
export class SessionController {
  constructor(
    private readonly oidc: OidcSignIn,
    private readonly store: SessionStore,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Public()
  @Get('login')
  @ApiOperation({
    summary: 'Start the console sign-in: 302 to the identity provider (code flow, PKCE S256)',
  })
  async login(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    noStore(reply);
    if (!this.oidc.config)
      throw new GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        'console sign-in is not configured (OIDC_ISSUER)',
      );
    const query = req.query as Record<string, unknown>;
    const returnTo = consolePath(query.return_to) ?? CONSOLE_HOME;
    // Anonymous: each start writes a row, so an address starts only so many (the table is capped too).
    this.store.admitLogin(req.ip);
    const redirectUri = this.redirectUri(req);
    const start = await this.oidc.start(redirectUri);
    const loginId = await this.store.saveLogin({
      state: start.state,
      nonce: start.nonce,
      codeVerifier: start.codeVerifier,
      redirectUri,
      returnTo,
    });
    const names = cookiesFor(this.config, req);
    reply
      .header('set-cookie', setCookie(names.login, loginId, names.secure, LOGIN_REQUEST_SECONDS))
      .header('location', start.url)
      .status(302)
      .send();
  }

  @Public()
  @Get('callback')
  @ApiOperation({
    summary:
      'The identity provider’s redirect: the code exchanged, the ID token validated, the session made; 302 to the console',
  })
  async callback(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    noStore(reply);
    if (!this.oidc.config)
      throw new GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        'console sign-in is not configured (OIDC_ISSUER)',
      );
    const names = cookiesFor(this.config, req);
    // The login cookie is spent whatever happens next.
    reply.header('set-cookie', clearCookie(names.login, names.secure));
    const loginId = readCookie(req.headers, names.login);
    if (loginId === undefined)
      throw failed('no sign-in is under way in this browser: start again at /auth/login');
    const login = await this.store.takeLogin(loginId);
    if (!login)
      throw failed('this sign-in is unknown, used or expired: start again at /auth/login');
    const query = req.query as Record<string, unknown>;
    if (!csrfTokenMatches(query.state, login.state))
      throw failed('the state does not match this browser’s sign-in: start again at /auth/login');
    if (query.error !== undefined) {
      const code = typeof query.error === 'string' && /^[a-z_]{1,64}$/.test(query.error);
      throw failed(`the identity provider refused the sign-in (${code ? query.error : 'error'})`);
    }
    if (typeof query.code !== 'string' || query.code === '' || query.code.length > 2048)
      throw failed('the identity provider’s answer has no code');
    const signedIn = await this.oidc.finish(
      login.redirectUri,
      {
        code: query.code,
        state: query.state as string,
        ...(typeof query.iss === 'string' && { iss: query.iss }),
      },
      { state: login.state, nonce: login.nonce, codeVerifier: login.codeVerifier },
    );
    // A session this browser held before is ended, not left beside the new one.
    const previous = readCookie(req.headers, names.session);
    if (previous !== undefined) await this.store.end(previous);
    const { id } = await this.store.create(signedIn.caller);
    reply
      .header('set-cookie', [
        clearCookie(names.login, names.secure),
        setCookie(names.session, id, names.secure, this.config.signIn.absoluteSeconds),
      ])
      .header('location', login.returnTo)
      .status(302)
      .send();
  }

  @Public()
  @Get('session')
  @ApiOperation({
    summary:
      'Who is signed in: subject, team, roles, the CSRF token for state-changing requests, expiry (401 without a session)',
  })
  async session(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    noStore(reply);
    const live = await this.live(req);
    if (!live)
      throw new GatewayError(401, ErrorCode.UNAUTHENTICATED, 'no session: sign in at /auth/login');
    return sessionView(live);
  }

  @Public()
  @Post('logout')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'End the session server-side (X-CSRF-Token required); answers where to go next (the provider’s logout, else the console)',
  })
  async logout(@Req() req: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    noStore(reply);
    const names = cookiesFor(this.config, req);
    const id = readCookie(req.headers, names.session);
    const live = id === undefined ? undefined : await this.store.touch(id);
    reply.header('set-cookie', clearCookie(names.session, names.secure));
    if (!live || id === undefined) return { logged_out: false, redirect: CONSOLE_HOME };
    if (!csrfTokenMatches(req.headers[CSRF_HEADER], live.csrfToken)) {
      reply.removeHeader('set-cookie');
      throw new GatewayError(
        403,
        ErrorCode.CSRF_REQUIRED,
        'logout needs the session’s X-CSRF-Token header (GET /auth/session gives it)',
      );
    }
    await this.store.end(id);
    const home = new URL(CONSOLE_HOME, this.origin(req)).toString();
    const provider = await this.oidc.endSessionUrl(home);
    return { logged_out: true, redirect: provider ?? CONSOLE_HOME };
  }

  private async live(req: FastifyRequest): Promise<LiveSession | undefined> {
    if (!this.oidc.config) return undefined;
    const id = readCookie(req.headers, cookiesFor(this.config, req).session);
    return id === undefined ? undefined : this.store.touch(id);
  }

  /** OIDC_REDIRECT_URL, else this request's own origin + /auth/callback. */
  private redirectUri(req: FastifyRequest): string {
    return this.config.signIn.oidc?.redirectUrl ?? `${this.origin(req)}/auth/callback`;
  }

  private origin(req: FastifyRequest): string {
    const fixed = this.config.signIn.oidc?.redirectUrl;
    if (fixed) return new URL(fixed).origin;
    const host = req.host;
    if (typeof host !== 'string' || !HOST.test(host))
      throw new GatewayError(400, ErrorCode.VALIDATION_FAILED, 'the Host header is not valid');
    return `${servedOverHttps(this.config, req.protocol, host) ? 'https' : 'http'}://${host}`;
  }
}

const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store');
