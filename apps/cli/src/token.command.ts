import { parseArgs } from 'node:util';
import { devSigningSecret, mintDevToken } from '@app/auth';

export const TOKEN_USAGE = `keygate token --team TEAM --sub SUBJECT [--role keygate:admin]... [--ttl SECONDS]
  Mints an HS256 company JWT for development: signed with AUTH_JWT_SECRET when set, otherwise with
  the embedded default's secret (.keygate/dev-jwt-secret, the one \`npm start\` uses).`;

/** `keygate token`: prints a dev JWT on stdout. */
export async function tokenCommand(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const { values } = parseArgs({
    args,
    options: {
      team: { type: 'string' },
      sub: { type: 'string' },
      role: { type: 'string', multiple: true },
      ttl: { type: 'string' },
    },
    strict: true,
  });
  if (!values.team || !values.sub)
    throw new Error(`--team and --sub are required\n\n${TOKEN_USAGE}`);
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl <= 0))
    throw new Error('--ttl must be a positive number of seconds');
  return mintDevToken(env.AUTH_JWT_SECRET ?? devSigningSecret(), {
    subject: values.sub,
    team: values.team,
    roles: values.role ?? [],
    ttlSeconds: ttl,
    issuer: env.AUTH_ISSUER,
    audience: env.AUTH_AUDIENCE,
    teamClaim: env.AUTH_TEAM_CLAIM,
    rolesClaim: env.AUTH_ROLES_CLAIM,
  });
}
