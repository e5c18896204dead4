import {
  CanActivate,
  ExecutionContext,
  Injectable,
  Optional,
  SetMetadata,
  createParamDecorator,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ErrorCode, GatewayError } from '@app/common';
import type { IncomingHttpHeaders } from 'node:http';
import { Caller } from './caller';
import { AuthenticationError, CallerVerifier } from './caller-verifier';
import {
  CSRF_HEADER,
  csrfTokenMatches,
  SessionAuthenticator,
  STATE_CHANGING_METHODS,
} from './session-authenticator';

const PUBLIC = 'keygate:public';
const ROLES = 'keygate:roles';

/** The route needs no company JWT (health, docs). */
export const Public = () => SetMetadata(PUBLIC, true);
/** The caller needs at least one of these gateway roles. */
export const RequireAnyRole = (...roles: string[]) => SetMetadata(ROLES, roles);

/** The request as any HTTP adapter gives it: its headers, and the caller once verified. */
interface AuthenticatedRequest {
  headers: IncomingHttpHeaders;
  method?: string;
  protocol?: string;
  host?: string;
  caller?: Caller;
}

export const CurrentCaller = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Caller => {
    const caller = context.switchToHttp().getRequest<AuthenticatedRequest>().caller;
    if (!caller) throw new Error('CurrentCaller used on a public route');
    return caller;
  },
);

/**
 * Every route needs a verified company JWT, or the console's session cookie, unless marked
 * @Public(). A request with an Authorization header is judged by it alone (the bearer wins, the
 * cookie is ignored); without one, a session cookie (when the gateway keeps sessions) names the
 * caller, a request through it from another site (Sec-Fetch-Site) is refused, and a
 * state-changing one needs the session's X-CSRF-Token.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly verifier: CallerVerifier,
    private readonly reflector: Reflector,
    @Optional() private readonly sessions?: SessionAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    try {
      request.caller = await this.callerOf(request);
    } catch (error) {
      if (error instanceof AuthenticationError) {
        throw new GatewayError(401, ErrorCode.UNAUTHENTICATED, error.message);
      }
      throw error;
    }
    const roles = this.reflector.getAllAndOverride<string[] | undefined>(ROLES, targets);
    if (roles && !roles.some((r) => request.caller?.roles.includes(r))) {
      throw new GatewayError(
        403,
        ErrorCode.FORBIDDEN,
        `requires one of the roles: ${roles.join(', ')}`,
      );
    }
    return true;
  }

  private async callerOf(request: AuthenticatedRequest): Promise<Caller> {
    const authorization = request.headers.authorization;
    const session =
      authorization === undefined && this.sessions
        ? await this.sessions.authenticate(request)
        : undefined;
    if (!session) return { ...(await this.verifier.verify(authorization)), via: 'bearer' };
    // The browser says where the request comes from (Fetch Metadata): through the cookie, only the
    // console's own calls (same-origin) and the user's own navigation (none). A page of another
    // site (a link, a form, an <img>) gets nothing, GETs included: some of them write (audit.read)
    // or cost (chain verification). Clients that send no Sec-Fetch-Site are judged as before.
    const site = request.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      throw new GatewayError(
        403,
        ErrorCode.CSRF_REQUIRED,
        'a request from another site cannot use the session cookie (Sec-Fetch-Site)',
      );
    }
    if (
      STATE_CHANGING_METHODS.has((request.method ?? 'GET').toUpperCase()) &&
      !csrfTokenMatches(request.headers[CSRF_HEADER], session.csrfToken)
    ) {
      throw new GatewayError(
        403,
        ErrorCode.CSRF_REQUIRED,
        `a ${request.method} through the session cookie needs the session's X-CSRF-Token header (GET /auth/session gives it)`,
      );
    }
    return { ...session.caller, via: 'session' };
  }
}
