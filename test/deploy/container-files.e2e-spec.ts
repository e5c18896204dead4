import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { startGateway, startSimulator, StartedSimulator } from '../support/gateway';
import { ROOT } from '../support/processes';

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface Service {
  build?: unknown;
  image?: string;
  depends_on?: Record<string, { condition: string }>;
  environment: Record<string, string>;
  volumes?: string[];
  healthcheck: { test: string[] };
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const sim = compose.services['upstream-sim'];
const gateway = compose.services.gateway;

/** Runs a compose healthcheck (`CMD node -e ...`) here, against `port` instead of the container's. */
async function healthcheck(service: Service, containerPort: string, port: number) {
  const [kind, command, ...args] = service.healthcheck.test;
  expect([kind, command]).toEqual(['CMD', 'node']);
  const script = args[1].replace(`:${containerPort}/`, `:${port}/`);
  expect(script).not.toBe(args[1]);
  return promisify(execFile)(process.execPath, ['-e', script], { timeout: 10_000 }).then(
    () => 0,
    (error: { code?: number }) => error.code ?? -1,
  );
}

describe('docker-compose.yml', () => {
  let s: StartedSimulator;
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(async () => {
    await s.sim.close();
  });

  it('builds the image once: one service builds and names it, the other runs the same name', () => {
    expect(sim.build).toBeDefined();
    expect(gateway.build).toBeUndefined();
    expect(gateway.image).toBe(sim.image);
  });

  it('starts the gateway once the simulator and PostgreSQL are healthy', () => {
    expect(gateway.depends_on).toEqual({
      'upstream-sim': { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' },
    });
  });

  it("mounts the policy's directory, not the file, and points POLICY_FILE inside it", () => {
    const mount = gateway.volumes?.find((v) => v.includes(':/app/config'));
    expect(mount).toMatch(/:\/app\/config:ro$/);
    expect(gateway.environment.POLICY_FILE).toMatch(/^\/app\/config\/[^/]+$/);
  });

  it('healthchecks answer as compose reads them: the simulator on any HTTP answer', async () => {
    const port = Number(new URL(s.sim.url).port);
    expect(await healthcheck(sim, '4010', port)).toBe(0);
    await s.sim.close();
    expect(await healthcheck(sim, '4010', port)).toBe(1);
    s = await startSimulator();
  }, 30_000);

  it('healthchecks answer as compose reads them: the gateway on /health/live only', async () => {
    const g = await startGateway(s);
    try {
      expect(await healthcheck(gateway, '3000', Number(new URL(g.url).port))).toBe(0);
      // The simulator answers 404 on /health/live: not a live gateway.
      expect(await healthcheck(gateway, '3000', Number(new URL(s.sim.url).port))).toBe(1);
    } finally {
      await g.close();
    }
  }, 30_000);

  it('.env.example names every variable compose reads, and nothing else', () => {
    const used = new Set([...read('docker-compose.yml').matchAll(/\$\{(\w+)/g)].map((m) => m[1]));
    const example = new Set(
      read('.env.example')
        .split('\n')
        .filter((line) => /^\w+=/.test(line))
        .map((line) => line.split('=')[0]),
    );
    expect([...example].sort()).toEqual([...used].sort());
  });
});

describe('image', () => {
  it('keeps local and secret files out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of [
      '.env',
      '.keygate',
      '.git',
      'node_modules',
      'dist',
      'bench-results',
      'coverage',
      '*.log',
    ])
      expect(ignored).toContain(entry);
  });

  it('runs Node 24 in both stages, and the production entry point', () => {
    const dockerfile = read('Dockerfile');
    const from = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(from).toEqual(['node:24-bookworm-slim', 'node:24-bookworm-slim']);
    expect(dockerfile).toMatch(/CMD \[.*"dist\/apps\/gateway\/apps\/gateway\/src\/main\.js"\]/);
  });
});
