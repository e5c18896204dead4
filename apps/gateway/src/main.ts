import { loadGatewayConfig } from './config/env.validation';
import { exitOnStartupFailure, serve } from './serve';
import { refuseDevelopmentProvider } from './session/production-checks';

/*
 * The production entry point (the Docker image runs its build, dist/apps/gateway/apps/gateway/src/main.js).
 * Everything comes from the environment: without the vendors' URLs and credentials, or without
 * DATABASE_URL (the PostgreSQL store), it names each problem and exits 1; a database it cannot
 * reach exits 1 naming DATABASE_URL. It never starts the vendor
 * simulator (which is not even compiled into this build: apps/gateway/tsconfig.app.json) and never
 * mints a token. It refuses Keygate's development OpenID provider as OIDC_ISSUER (its discovery
 * says keygate_dev: true) and never starts it. `npm start` runs main.dev.ts instead, the
 * development convenience.
 */
async function main(): Promise<void> {
  const config = loadGatewayConfig(process.env);
  // Never the development OpenID provider (nor is it in this build).
  await refuseDevelopmentProvider(config);
  await serve(config);
}

main().catch(exitOnStartupFailure);
