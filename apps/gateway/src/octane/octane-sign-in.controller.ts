import { Controller, Delete, HttpCode, Post, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiVendorAnswer, ApiVendorErrors } from '../common/api-errors.decorator';
import { methodNotAllowedController, refuseMethod } from '../common/method-not-allowed';

/**
 * Octane's sign-in and sign-out, so that an Octane client (OpenText's own SDK among them) pointed
 * at `<keygate>/octane` works unchanged. Keygate holds the vendor credential and signs in to
 * Octane itself, so both succeed at once without calling Octane: the caller is the company JWT's
 * (still required). Whatever the body carries (client_id, client_secret, user, password) is
 * neither read nor logged.
 */
@ApiTags('Octane API access keys')
@ApiBearerAuth()
@Controller('octane/authentication')
export class OctaneSignInController {
  @Post('sign_in')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Sign in (for Octane clients): succeeds without calling Octane',
    description:
      'Keygate holds the Octane credential: the caller is the one of the company JWT, and any ' +
      'client_id, client_secret, user or password in the body is ignored (never read, never logged). ' +
      'No session cookie is set: every later request carries the JWT.',
  })
  @ApiVendorAnswer({ status: 200, description: 'Signed in (empty body, no cookie)' })
  @ApiVendorErrors('octane', 'session')
  signIn(): void {
    return undefined;
  }

  @Post('sign_out')
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign out (for Octane clients): succeeds without calling Octane' })
  @ApiVendorAnswer({ status: 200, description: 'Signed out (empty body)' })
  @ApiVendorErrors('octane', 'session')
  signOut(): void {
    return undefined;
  }
}

const API_ACCESS = 'api/shared_spaces/:spaceId/api_accesses/:id';

/** Octane deletes no key (it revokes with PUT): documented, since clients try it. */
@ApiTags('Octane API access keys')
@ApiBearerAuth()
@Controller('octane')
export class OctaneApiAccessDeleteController {
  @Delete(API_ACCESS)
  @ApiOperation({
    summary: 'Not allowed: Octane deletes no key; revoke it with PUT {"is_valid": false}',
  })
  @ApiVendorErrors('octane', 'not_allowed')
  remove(@Res({ passthrough: true }) reply: FastifyReply): never {
    return refuseMethod(reply, 'DELETE', ['GET', 'PUT']);
  }
}

/** 405 with `Allow` for the methods Octane does not serve on the paths Keygate relays. */
export const OctaneMethodNotAllowed = methodNotAllowedController(
  'OctaneMethodNotAllowed',
  'octane',
  {
    'authentication/sign_in': ['POST'],
    'authentication/sign_out': ['POST'],
    'api/shared_spaces/:spaceId/roles': ['GET'],
    'api/shared_spaces/:spaceId/workspace_roles': ['GET'],
    'api/shared_spaces/:spaceId/api_accesses': ['GET', 'POST'],
    [API_ACCESS]: ['GET', 'PUT'],
  },
  { [API_ACCESS]: ['DELETE'] },
);
