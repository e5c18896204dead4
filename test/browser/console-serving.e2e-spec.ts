import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import request from 'supertest';
import { CONSOLE_DIST, serveConsole } from '../../apps/gateway/src/console/console.module';
import { useStack } from '../support/gateway';

// The console's build (apps/console/dist) is made once if it is missing, as `npm start` does.
beforeAll(() => {
  execFileSync(process.execPath, [join(__dirname, '../../apps/console/ensure-built.mjs')], {
    stdio: 'inherit',
  });
}, 120_000);

describe('the console served at /console', () => {
  const stack = useStack();
  const asset = () => readdirSync(join(CONSOLE_DIST, 'assets')).find((f) => f.endsWith('.js'))!;

  it.each(['/console', '/console/', '/console/audit', '/console/issue?x=1'])(
    '%s answers index.html, revalidated every time',
    async (path) => {
      const res = await stack.g.http().get(path).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.text).toBe(readFileSync(join(CONSOLE_DIST, 'index.html'), 'utf8'));
    },
  );

  it('hashed assets are cached for a year, immutable', async () => {
    const res = await stack.g.http().get(`/console/assets/${asset()}`).expect(200);
    expect(res.headers['content-type']).toMatch(/javascript/);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('a missing asset is a 404, never the page', async () => {
    const res = await stack.g.http().get('/console/assets/index-00000000.js').expect(404);
    expect(res.text).not.toContain('<html');
    await stack.g.http().get('/console/favicon.ico').expect(404);
  });

  it('nothing outside the build is reachable', async () => {
    for (const path of [
      '/console/..%2f..%2fpackage.json',
      '/console/%2e%2e/%2e%2e/package.json',
      '/console/assets/..%2f..%2f..%2fvite.config.mts',
    ]) {
      const res = await stack.g.http().get(path);
      expect(res.text).not.toContain('"name": "keygate"');
      expect(res.text).not.toContain('defineConfig');
    }
  });

  it('the page needs no inline script: the CSP allows only same-origin scripts', async () => {
    const res = await stack.g.http().get('/console/').expect(200);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(res.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.text).not.toMatch(/\sstyle=/);
  });
});

describe('serveConsole without a build', () => {
  it('answers 503 naming the build command', async () => {
    const app = Fastify();
    serveConsole(app, mkdtempSync(join(tmpdir(), 'keygate-console-')));
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const address = app.server.address() as { port: number };
      const res = await request(`http://127.0.0.1:${address.port}`).get('/console/').expect(503);
      expect(res.text).toContain('npm run build:console');
    } finally {
      await app.close();
    }
  });
});
