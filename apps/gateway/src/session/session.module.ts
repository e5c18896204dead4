import { Global, Module } from '@nestjs/common';
import { SessionAuthenticator } from '@app/auth';
import { OidcSignIn } from './oidc.client';
import { SessionController } from './session.controller';
import { GatewaySessionAuthenticator } from './session.authenticator';
import { SessionStore } from './session.store';

/**
 * The console's sign-in (OpenID Connect, sessions in PostgreSQL). Global: the AuthGuard (libs/auth)
 * finds the SessionAuthenticator here and accepts the session cookie beside bearer JWTs.
 */
@Global()
@Module({
  controllers: [SessionController],
  providers: [
    SessionStore,
    OidcSignIn,
    GatewaySessionAuthenticator,
    { provide: SessionAuthenticator, useExisting: GatewaySessionAuthenticator },
  ],
  exports: [SessionAuthenticator, SessionStore],
})
export class SessionModule {}
