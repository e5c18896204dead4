import { mintDevToken } from '@app/auth';
import { PolicyError } from '@app/policy';
import { ConfigError, loadGatewayConfig } from './config/env.validation';
import { startEmbeddedDefault, wantsEmbeddedDefault } from './config/embedded-default';
import { createGateway } from './bootstrap';

async function main(): Promise<void> {
  let env = process.env;
  const embedded = wantsEmbeddedDefault(env) ? await startEmbeddedDefault(env) : undefined;
  if (embedded) env = embedded.env;
  const config = loadGatewayConfig(env);

  const app = await createGateway(config);
  // Only the signals that mean "stop" (Nest's default list includes SIGUSR2, used for profiling).
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(config.http.port, config.http.host);
  const url = await app.getUrl();
  process.stdout.write(`Keygate listening on ${url}\n`);

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
        '',
      ].join('\n'),
    );
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof ConfigError || error instanceof PolicyError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
