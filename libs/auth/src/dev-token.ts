import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SignJWT } from 'jose';

export const DEV_SECRET_FILE = '.keygate/dev-jwt-secret';
/** The embedded default's audit HMAC key (see the gateway's embedded default). */
export const DEV_AUDIT_KEY_FILE = '.keygate/dev-audit-hmac-key';

/**
 * The HS256 secret of the embedded default: read from `file`, or created there (mode 0600) on
 * first use, so `npm run token` and `npm start` agree without a secret in the repository.
 */
export function devSigningSecret(file = DEV_SECRET_FILE): string {
  return devSecret(file);
}

/** A random secret kept in a 0600 file for development (created on first use). */
export function devSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

export interface DevTokenClaims {
  subject: string;
  team: string;
  roles?: string[];
  ttlSeconds?: number;
  issuer?: string;
  audience?: string;
  teamClaim?: string;
  rolesClaim?: string;
}

/** An HS256 company JWT for development and tests. */
export async function mintDevToken(secret: string, claims: DevTokenClaims): Promise<string> {
  const jwt = new SignJWT({
    [claims.teamClaim ?? 'team']: claims.team,
    [claims.rolesClaim ?? 'roles']: claims.roles ?? [],
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.subject)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds ?? 8 * 3600}s`);
  if (claims.issuer) jwt.setIssuer(claims.issuer);
  if (claims.audience) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
