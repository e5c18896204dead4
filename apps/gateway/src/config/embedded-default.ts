import { devSigningSecret } from '@app/auth';
import { generatedCredentials, UpstreamSimulator } from '@app/upstream-sim';

/** No vendor configured: run with the simulator in-process on loopback (the embedded default). */
export function wantsEmbeddedDefault(env: NodeJS.ProcessEnv): boolean {
  return !env.QWIET_BASE_URL && !env.OCTANE_BASE_URL;
}

/**
 * Starts the simulator on an ephemeral loopback port and returns the environment that points the
 * gateway at it: fresh vendor credentials, two teams, and the dev signing secret that
 * `npm run token` also uses.
 */
export async function startEmbeddedDefault(
  env: NodeJS.ProcessEnv,
): Promise<{ env: NodeJS.ProcessEnv; simulator: UpstreamSimulator }> {
  const options = {
    ...generatedCredentials(),
    admin: ['1', 'true', 'on'].includes(env.SIM_ADMIN ?? ''),
  };
  const simulator = await UpstreamSimulator.start(options, 0, '127.0.0.1');
  const [orgA, orgB] = options.qwietOrgs;
  const [spaceA, spaceB] = options.octaneSpaces;
  return {
    simulator,
    env: {
      ...env,
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
      KEYGATE_TEAMS:
        env.KEYGATE_TEAMS ??
        JSON.stringify({
          payments: { qwiet_orgs: [orgA.id], octane_shared_spaces: [spaceA.id] },
          platform: { qwiet_orgs: [orgB.id], octane_shared_spaces: [spaceB.id] },
        }),
      AUTH_JWT_SECRET: env.AUTH_JWT_SECRET ?? (env.AUTH_JWKS_URL ? undefined : devSigningSecret()),
    },
  };
}
