import { Logger } from '@nestjs/common';
import { ConfigError } from '../config/env.validation';
import type { GatewayConfig } from '../config/gateway.config';
import { DevelopmentProviderRefused, discoverIssuer } from './oidc.client';

/**
 * The production entry's check of the console's provider at start-up: Keygate's development
 * OpenID provider (discovery `keygate_dev: true`) is refused, and the start fails naming
 * OIDC_ISSUER. A provider that cannot be reached now does not stop the start (the API's bearer
 * callers do not need it); its discovery is checked again, by the same rule, at the first sign-in.
 * (Plain http issuers outside loopback are refused with the configuration.)
 */
export async function refuseDevelopmentProvider(
  config: GatewayConfig,
  logger = new Logger('SignIn'),
): Promise<void> {
  const oidc = config.signIn.oidc;
  if (!oidc) return;
  oidc.allowDevelopmentProvider = false;
  try {
    await discoverIssuer(oidc);
  } catch (error) {
    // A ConfigError: named like every configuration problem, exit 1, no stack.
    if (error instanceof DevelopmentProviderRefused) throw new ConfigError([error.message]);
    logger.warn(
      `OIDC_ISSUER ${oidc.issuer}: discovery cannot be read now; checked again at the first sign-in`,
    );
  }
}
