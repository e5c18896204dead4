import { createRemoteJWKSet, errors, JWTPayload, jwtVerify, JWTVerifyGetKey } from 'jose';
import type { AuthConfig } from './auth.config';
import type { Caller } from './caller';

/** Bearer tokens longer than this are refused unread. */
export const MAX_TOKEN_LENGTH = 8192;
/** A verified token is remembered this long (never past its exp), so repeat callers skip the crypto. */
const CACHE_MS = 60_000;
const CACHE_ENTRIES = 10_000;
const ASYMMETRIC = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
];

export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
}

/** Verifies company JWTs (jose): HS256 with a shared secret, or a JWKS with issuer and audience. */
export class CallerVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];
  private readonly verified = new Map<string, { caller: Caller; until: number }>();

  constructor(private readonly config: AuthConfig) {
    if (config.mode === 'hs256') {
      this.key = new TextEncoder().encode(config.secret);
      this.algorithms = ['HS256'];
    } else {
      this.key = createRemoteJWKSet(new URL(config.jwksUrl));
      this.algorithms = ASYMMETRIC;
    }
  }

  async verify(authorization: string | undefined): Promise<Caller> {
    if (!authorization) throw new AuthenticationError('missing Authorization: Bearer <token>');
    const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization);
    if (!match) throw new AuthenticationError('Authorization must be "Bearer <JWT>"');
    const token = match[1];
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthenticationError('bearer token is too long');
    const cached = this.verified.get(token);
    if (cached && cached.until > Date.now()) return cached.caller;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key as Uint8Array, {
        algorithms: this.algorithms,
        issuer: this.config.issuer,
        audience: this.config.audience,
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (error) {
      throw new AuthenticationError(describe(error));
    }
    const caller = this.callerFrom(payload);
    this.remember(token, caller, (payload.exp as number) * 1000);
    return caller;
  }

  private remember(token: string, caller: Caller, expiresAt: number): void {
    if (this.verified.size >= CACHE_ENTRIES)
      this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(token, { caller, until: Math.min(expiresAt, Date.now() + CACHE_MS) });
  }

  private callerFrom(payload: JWTPayload): Caller {
    return callerFromClaims(payload, this.config.teamClaim, this.config.rolesClaim);
  }
}

/**
 * The caller named by verified claims (a company JWT, or an OpenID Connect ID token): `sub`, the
 * team claim and the roles claim (an array of strings or one space-separated string).
 */
export function callerFromClaims(
  payload: Record<string, unknown>,
  teamClaim: string,
  rolesClaim: string,
): Caller {
  const subject = payload.sub;
  if (!isName(subject, MAX_SUBJECT_LENGTH)) {
    throw new AuthenticationError(
      `token claim "sub" must be a non-empty string of at most ${MAX_SUBJECT_LENGTH} printable characters`,
    );
  }
  const team = payload[teamClaim];
  if (!isName(team, MAX_TEAM_LENGTH)) {
    throw new AuthenticationError(
      `token claim "${teamClaim}" must be a non-empty string of at most ${MAX_TEAM_LENGTH} printable characters`,
    );
  }
  const raw = payload[rolesClaim];
  const roles = Array.isArray(raw)
    ? raw.filter((r): r is string => typeof r === 'string')
    : typeof raw === 'string'
      ? raw.split(' ').filter(Boolean)
      : [];
  return { subject, team, roles };
}

/** Subjects and teams key quotas, budgets, ownership and the audit log: typed, bounded, printable. */
export const MAX_SUBJECT_LENGTH = 256;
export const MAX_TEAM_LENGTH = 64;
const isName = (value: unknown, max: number): value is string =>
  typeof value === 'string' &&
  value.length > 0 &&
  value.length <= max &&
  ![...value].some((c) => c < ' ' || c === '\x7f');

/** A reason safe to give the caller: the kind of failure, never the token or key. */
function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token has expired';
  if (error instanceof errors.JWTClaimValidationFailed)
    return `token claim "${error.claim}" is not valid`;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not allowed';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature is not valid';
  if (error instanceof errors.JWKSNoMatchingKey) return 'token was signed with an unknown key';
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JOSENotSupported)
    return 'token could not be verified';
  return 'token is malformed';
}
