export type AuthConfig = ({ mode: 'hs256'; secret: string } | { mode: 'jwks'; jwksUrl: string }) & {
  issuer?: string;
  audience?: string;
  /** Claim holding the caller's team (default `team`). */
  teamClaim: string;
  /** Claim holding gateway roles: an array of strings or one space-separated string (default `roles`). */
  rolesClaim: string;
};
