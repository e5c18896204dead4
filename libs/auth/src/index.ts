export type { AuthConfig } from './auth.config';
export { AuthModule } from './auth.module';
export { AuthGuard, CurrentCaller, Public, RequireAnyRole } from './auth.guard';
export {
  AuthenticationError,
  CallerVerifier,
  callerFromClaims,
  MAX_TOKEN_LENGTH,
} from './caller-verifier';
export { GatewayRole, isAdmin } from './caller';
export type { Caller, CallerChannel } from './caller';
export {
  CSRF_HEADER,
  csrfTokenMatches,
  SessionAuthenticator,
  STATE_CHANGING_METHODS,
} from './session-authenticator';
export type { AuthenticatedSession, SessionRequest } from './session-authenticator';
export {
  DEV_AUDIT_KEY_FILE,
  DEV_SECRET_FILE,
  devSecret,
  devSigningSecret,
  mintDevToken,
} from './dev-token';
export type { DevTokenClaims } from './dev-token';
