/** The processes a benchmark or soak runs against: the simulator and gateways, on loopback only. */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatedCredentials } from '@app/upstream-sim';
import { freePort, ROOT, spawnReady } from '../test/support/processes';
import { compiledArgs, compiledEnv, compileForBench } from './compiled';

/** The node flags the Docker image starts the gateway with (its CMD), so the bench runs it alike. */
const IMAGE_NODE_FLAGS: string[] = (() => {
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
  const args = cmd ? (JSON.parse(cmd) as string[]) : [];
  return args.filter((arg) => arg.startsWith('--'));
})();

export const JWT_SECRET = 'bench-jwt-secret-bench-jwt-secret-0123456789';
export const AUDIT_KEY = 'bench-audit-key-bench-audit-key-0123456789';

export interface Stack {
  creds: ReturnType<typeof generatedCredentials>;
  simUrl: string;
  /** Environment that points a gateway (or the raw forwarder) at the simulator. */
  vendorEnv: Record<string, string>;
  startGateway: (
    env?: Record<string, string>,
    nodeArgs?: string[],
  ) => Promise<{ url: string; auditDir: string; child: ChildProcess }>;
  spawn: (
    script: string,
    env: Record<string, string>,
    ready: string,
    nodeArgs?: string[],
  ) => Promise<ChildProcess>;
  stop: () => void;
}

/** Compiles the repository, then starts the simulator; gateways and other processes on demand. */
export async function startStack(policyRules = ''): Promise<Stack> {
  compileForBench();
  const creds = generatedCredentials();
  const children: ChildProcess[] = [];
  const spawn = async (
    script: string,
    env: Record<string, string>,
    ready: string,
    nodeArgs: string[] = [],
  ) => {
    const child = await spawnReady(
      compiledArgs(script, nodeArgs),
      { ...env, ...compiledEnv },
      ready,
    );
    children.push(child);
    return child;
  };
  const simPort = await freePort();
  await spawn(
    'apps/upstream-sim/src/main.ts',
    {
      SIM_PORT: String(simPort),
      SIM_ADMIN: 'on',
      SIM_QWIET_ORG_IDS: creds.qwietOrgs.map((o) => o.id).join(','),
      SIM_QWIET_TOKENS: creds.qwietOrgs.map((o) => o.adminToken).join(','),
      SIM_OCTANE_SHARED_SPACES: creds.octaneSpaces.map((s) => s.id).join(','),
      SIM_OCTANE_CLIENT_IDS: creds.octaneSpaces.map((s) => s.clientId).join(','),
      SIM_OCTANE_CLIENT_SECRETS: creds.octaneSpaces.map((s) => s.clientSecret).join(','),
    },
    'upstream-sim listening',
  );
  const simUrl = `http://127.0.0.1:${simPort}`;
  const policyFile = join(mkdtempSync(join(tmpdir(), 'keygate-stack-')), 'policy.yaml');
  const scope = `{ qwiet_orgs: [${creds.qwietOrgs.map((o) => o.id).join(', ')}], octane_shared_spaces: [${creds.octaneSpaces.map((s) => `'${s.id}'`).join(', ')}] }`;
  writeFileSync(
    policyFile,
    ['version: 1', policyRules, 'teams:', `  bench: ${scope}`, ''].join('\n'),
  );
  const vendorEnv = {
    QWIET_BASE_URL: `${simUrl}/api/v4`,
    QWIET_ORG_TOKENS: JSON.stringify(
      Object.fromEntries(creds.qwietOrgs.map((o) => [o.id, o.adminToken])),
    ),
    OCTANE_BASE_URL: simUrl,
    OCTANE_CREDENTIALS: JSON.stringify(
      Object.fromEntries(
        creds.octaneSpaces.map((s) => [
          s.id,
          { client_id: s.clientId, client_secret: s.clientSecret },
        ]),
      ),
    ),
  };
  const startGateway = async (env: Record<string, string> = {}, nodeArgs: string[] = []) => {
    const port = await freePort();
    const auditDir = mkdtempSync(join(tmpdir(), 'keygate-stack-audit-'));
    const child = await spawn(
      'apps/gateway/src/main.ts',
      {
        ...vendorEnv,
        PORT: String(port),
        POLICY_FILE: policyFile,
        AUDIT_DIR: auditDir,
        AUDIT_HMAC_KEY: AUDIT_KEY,
        AUTH_JWT_SECRET: JWT_SECRET,
        LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
        // The request budget stays in the path but never binds: the load comes from one subject.
        RATE_LIMIT_PER_MINUTE: '1000000',
        ...env,
      },
      'Keygate listening on',
      [...IMAGE_NODE_FLAGS, ...nodeArgs],
    );
    return { url: `http://127.0.0.1:${port}`, auditDir, child };
  };
  return {
    creds,
    simUrl,
    vendorEnv,
    startGateway,
    spawn,
    stop: () => children.forEach((c) => c.kill('SIGTERM')),
  };
}
