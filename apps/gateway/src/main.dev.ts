import { mintDevToken } from '@app/auth';
import { loadGatewayConfig } from './config/env.validation';
import { startEmbeddedDefault, wantsEmbeddedDefault } from './dev/embedded-default';
import { exitOnStartupFailure, serve } from './serve';

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
  const config = loadGatewayConfig(env, { auditDirMustExist: true });
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
        '',
      ].join('\n'),
    );
  }
}

main().catch(exitOnStartupFailure);
