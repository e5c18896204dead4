import { mintDevToken } from '@app/auth';
import { loadGatewayConfig } from './config/env.validation';
import { startEmbeddedDefault, wantsEmbeddedDefault } from './dev/embedded-default';
import { exitOnStartupFailure, serve } from './serve';
import type { EmbeddedPostgres } from './dev/embedded-postgres';

/*
 * The development entry point (`npm start`, under ts-node; never built, never in the image).
 * With no vendor URL set it runs the embedded default: the simulator in-process, generated vendor
 * credentials, the example policy, dev secrets in .keygate/, and a ready-to-paste token.
 * With the vendors set it starts exactly as main.ts does.
 */
async function main(): Promise<void> {
  let env = process.env;
  const embedded = wantsEmbeddedDefault(env) ? await startEmbeddedDefault(env) : undefined;
  if (embedded) env = embedded.env;
  if (embedded?.postgres) stopAfterGateway(embedded.postgres);
  const config = loadGatewayConfig(env);
  // The development provider `npm start` started itself: the one place it is allowed.
  if (embedded?.identityProvider && config.signIn.oidc)
    config.signIn.oidc.allowDevelopmentProvider = true;
  const { url } = await serve(config);

  if (embedded && config.auth.mode === 'hs256') {
    const token = await mintDevToken(config.auth.secret, { subject: 'alice', team: 'payments' });
    const [org] = Object.keys(config.qwiet.orgTokens);
    process.stdout.write(
      [
        '',
        `Keygate on ${url}, with the vendor simulator in-process on ${embedded.simulator.url} (embedded default)`,
        `  docs:   ${url}/docs`,
        `  token:  export KEYGATE_TOKEN=${token}`,
        `          (team payments, subject alice; mint others with: npm run token -- --team platform --sub bob)`,
        `  try:    curl -s -H "Authorization: Bearer $KEYGATE_TOKEN" ${url}/qwiet/api/v4/orgs/${org}/roles`,
        ...(embedded.identityProvider
          ? [
              `  console sign-in: ${url}/auth/login (development OpenID provider on ${embedded.identityProvider.issuer})`,
            ]
          : []),
        '',
      ].join('\n'),
    );
  }
}

/**
 * Stops the embedded PostgreSQL once the gateway has: on SIGINT/SIGTERM the gateway's shutdown
 * hooks run first (they end its connections) and then raise the signal again; that second signal
 * (or a second Ctrl-C while the gateway is still closing) stops the server and ends the process.
 * A failed start stops it too.
 */
function stopAfterGateway(postgres: EmbeddedPostgres): void {
  let seen = 0;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= postgres.stop().catch(() => undefined));
  const onSignal = (signal: NodeJS.Signals) => {
    seen += 1;
    if (seen === 1 && gatewayStarted) return;
    void stop().then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  stopEmbedded = stop;
}

let gatewayStarted = false;
let stopEmbedded: (() => Promise<void>) | undefined;

main().then(
  () => {
    gatewayStarted = true;
  },
  async (error: unknown) => {
    await stopEmbedded?.();
    exitOnStartupFailure(error);
  },
);
