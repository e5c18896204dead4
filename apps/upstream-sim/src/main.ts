import { simulatorConfigFromEnv } from './sim.config';
import { UpstreamSimulator } from './simulator';

async function main(): Promise<void> {
  const { options, listen } = simulatorConfigFromEnv(process.env);
  const sim = await UpstreamSimulator.start(options, listen.port, listen.host);
  const lines = [
    `upstream-sim listening on ${sim.url} (admin surface ${options.admin ? 'on: /__sim/*' : 'off'})`,
    ...options.qwietOrgs.map(
      (o) =>
        `  Qwiet   org ${o.id}: curl -H "Authorization: Bearer ${o.adminToken}" ${sim.url}/api/v4/orgs/${o.id}/roles`,
    ),
    ...options.octaneSpaces.map(
      (s) =>
        `  Octane  shared space ${s.id}: sign in with {"client_id":"${s.clientId}","client_secret":"${s.clientSecret}"}`,
    ),
    '  (simulator credentials: a fake vendor, printed so you can try it by hand)',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const stop = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
