import {
  CanActivate,
  ExecutionContext,
  Injectable,
  SetMetadata,
  createParamDecorator,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ErrorCode, GatewayError } from '@app/common';
import type { IncomingHttpHeaders } from 'node:http';
import { Caller } from './caller';
import { AuthenticationError, CallerVerifier } from './caller-verifier';

const PUBLIC = 'keygate:public';
const ROLES = 'keygate:roles';

/** The route needs no company JWT (health, docs). */
export const Public = () => SetMetadata(PUBLIC, true);
/** The caller needs at least one of these gateway roles. */
export const RequireAnyRole = (...roles: string[]) => SetMetadata(ROLES, roles);

/** The request as any HTTP adapter gives it: its headers, and the caller once verified. */
interface AuthenticatedRequest {
  headers: IncomingHttpHeaders;
  caller?: Caller;
}

export const CurrentCaller = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Caller => {
    const caller = context.switchToHttp().getRequest<AuthenticatedRequest>().caller;
    if (!caller) throw new Error('CurrentCaller used on a public route');
    return caller;
  },
);

/** Every route needs a verified company JWT unless marked @Public(). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly verifier: CallerVerifier,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    try {
      request.caller = await this.verifier.verify(request.headers.authorization);
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
}
