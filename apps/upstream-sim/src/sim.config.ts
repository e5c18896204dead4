import { randomUUID } from 'node:crypto';
import { octaneRandomId, octaneSecret, qwietTokenValue } from './ids';
import { DEFAULT_OCTANE_SHARED_SPACE_IDS } from './octane/octane.fixtures';
import { DEFAULT_QWIET_ORG_IDS } from './qwiet/qwiet.fixtures';
import { isUuid } from './qwiet/qwiet.validation';
import type { SimulatorOptions } from './simulator';

export interface SimListenOptions {
  host: string;
  port: number;
}

const list = (value: string | undefined): string[] | undefined =>
  value === undefined || value.trim() === '' ? undefined : value.split(',').map((v) => v.trim());

const flag = (value: string | undefined, fallback: boolean): boolean =>
  value === undefined ? fallback : ['1', 'true', 'on', 'yes'].includes(value.toLowerCase());

/** Fresh random vendor credentials: nothing secret is ever fixed in the repository. */
export function generatedCredentials(
  orgIds: readonly string[] = DEFAULT_QWIET_ORG_IDS,
  spaceIds: readonly string[] = DEFAULT_OCTANE_SHARED_SPACE_IDS,
): Pick<SimulatorOptions, 'qwietOrgs' | 'octaneSpaces'> {
  return {
    qwietOrgs: orgIds.map((id) => ({
      id,
      // Like every token the simulator issues, these carry their own token id as `jti`.
      adminToken: qwietTokenValue({ jti: randomUUID(), org: id, sub: 'keygate' }),
      serviceToken: qwietTokenValue({ jti: randomUUID(), org: id, sub: 'service' }),
    })),
    octaneSpaces: spaceIds.map((id) => ({
      id,
      clientId: `keygate_${octaneRandomId()}`,
      clientSecret: octaneSecret(),
    })),
  };
}

/**
 * Simulator settings from the environment (see README "Simulator"). Credentials not given are
 * generated; lists given must line up (one token per org, one client id and secret per space).
 */
export function simulatorConfigFromEnv(env: NodeJS.ProcessEnv): {
  options: SimulatorOptions;
  listen: SimListenOptions;
} {
  const errors: string[] = [];
  const orgIds = list(env.SIM_QWIET_ORG_IDS) ?? DEFAULT_QWIET_ORG_IDS;
  const spaceIds = list(env.SIM_OCTANE_SHARED_SPACES) ?? DEFAULT_OCTANE_SHARED_SPACE_IDS;
  for (const id of orgIds) if (!isUuid(id)) errors.push(`SIM_QWIET_ORG_IDS: ${id} is not a UUID`);
  for (const id of spaceIds)
    if (!/^\d+$/.test(id)) errors.push(`SIM_OCTANE_SHARED_SPACES: ${id} is not numeric`);
  const generated = generatedCredentials(orgIds, spaceIds);

  const aligned = (
    name: string,
    values: string[] | undefined,
    expected: number,
  ): string[] | undefined => {
    if (values !== undefined && values.length !== expected) {
      errors.push(`${name}: expected ${expected} comma-separated values, got ${values.length}`);
    }
    return values;
  };
  const tokens = aligned('SIM_QWIET_TOKENS', list(env.SIM_QWIET_TOKENS), orgIds.length);
  const serviceTokens = aligned(
    'SIM_QWIET_SERVICE_TOKENS',
    list(env.SIM_QWIET_SERVICE_TOKENS),
    orgIds.length,
  );
  const clientIds = aligned(
    'SIM_OCTANE_CLIENT_IDS',
    list(env.SIM_OCTANE_CLIENT_IDS),
    spaceIds.length,
  );
  const secrets = aligned(
    'SIM_OCTANE_CLIENT_SECRETS',
    list(env.SIM_OCTANE_CLIENT_SECRETS),
    spaceIds.length,
  );

  const port = Number(env.SIM_PORT ?? 4010);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    errors.push('SIM_PORT: not a port number');
  const seconds = (name: string, fallback: number): number => {
    const v = Number(env[name] ?? fallback);
    if (!Number.isFinite(v) || v < 0) errors.push(`${name}: not a non-negative number`);
    return v * 1000;
  };
  const session = {
    idleTimeoutMs: seconds('SIM_OCTANE_IDLE_TIMEOUT_SECONDS', 900),
    rotateAfterMs: seconds('SIM_OCTANE_COOKIE_ROTATE_SECONDS', 0),
  };
  if (errors.length > 0)
    throw new Error(`Invalid simulator configuration:\n  ${errors.join('\n  ')}`);

  const users =
    env.SIM_OCTANE_USER && env.SIM_OCTANE_PASSWORD
      ? [{ user: env.SIM_OCTANE_USER, password: env.SIM_OCTANE_PASSWORD }]
      : [];
  return {
    listen: { host: env.SIM_HOST ?? '127.0.0.1', port },
    options: {
      qwietOrgs: generated.qwietOrgs.map((org, i) => ({
        id: org.id,
        adminToken: tokens?.[i] ?? org.adminToken,
        serviceToken: serviceTokens?.[i] ?? org.serviceToken,
      })),
      octaneSpaces: generated.octaneSpaces.map((space, i) => ({
        id: space.id,
        clientId: clientIds?.[i] ?? space.clientId,
        clientSecret: secrets?.[i] ?? space.clientSecret,
      })),
      octaneUsers: users,
      admin: flag(env.SIM_ADMIN, false),
      requireTechPreview: flag(env.SIM_OCTANE_REQUIRE_TECH_PREVIEW, true),
      session,
    },
  };
}
