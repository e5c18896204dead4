export type { AuthConfig } from './auth.config';
export { AuthModule } from './auth.module';
export { AuthGuard, CurrentCaller, Public, RequireAnyRole } from './auth.guard';
export { AuthenticationError, CallerVerifier, MAX_TOKEN_LENGTH } from './caller-verifier';
export { GatewayRole, isAdmin } from './caller';
export type { Caller } from './caller';
export {
  DEV_AUDIT_KEY_FILE,
  DEV_SECRET_FILE,
  devSecret,
  devSigningSecret,
  mintDevToken,
} from './dev-token';
export type { DevTokenClaims } from './dev-token';
