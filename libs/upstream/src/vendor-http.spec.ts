import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpstreamError } from './upstream.errors';
import { VendorHttp, vendorPath } from './vendor-http';

const transport = {
  timeoutMs: 300,
  maxSockets: 4,
  getRetries: 1,
  deadlineMs: 2000,
  circuit: {
    errorThresholdPercentage: 50,
    volumeThreshold: 10,
    rollingWindowMs: 10_000,
    resetTimeoutMs: 1000,
  },
};

describe('VendorHttp (the lean node:http adapter under axios)', () => {
  let server: Server;
  let http: VendorHttp;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/api/big') return res.end('x'.repeat(6 * 1024 * 1024));
      if (req.url === '/api/hang') return;
      if (req.url === '/api/redirect')
        return res.writeHead(302, { location: 'http://127.0.0.1:9/' }).end();
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
      res.end(
        JSON.stringify({
          method: req.method,
          url: req.url,
          body: req.headers['content-length'] ?? null,
          accept: req.headers.accept,
          type: req.headers['content-type'] ?? null,
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    http = new VendorHttp(
      'qwiet',
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`,
      transport,
    );
  });
  afterAll(async () => {
    http.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends JSON to the base path with encoded segments and reads JSON back, every cookie kept', async () => {
    const res = await http.send(
      'op',
      { method: 'POST', url: vendorPath('orgs', 'a b/c'), data: { x: 1 }, params: { q: 'a&b' } },
      http.deadline(),
    );
    expect(res.status).toBe(200);
    expect(res.data).toEqual({
      method: 'POST',
      url: '/api/orgs/a%20b%2Fc?q=a%26b',
      body: '7',
      accept: 'application/json',
      type: 'application/json',
    });
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
  });

  it('does not follow redirects', async () => {
    expect(
      (await http.send('op', { method: 'GET', url: '/redirect' }, http.deadline())).status,
    ).toBe(302);
  });

  it('maps an oversized answer, a timeout and a refused connection to UpstreamErrors', async () => {
    await expect(
      http.send('op', { method: 'GET', url: '/big' }, http.deadline()),
    ).rejects.toMatchObject({ failure: 'bad_response' });
    hits = 0;
    await expect(
      http.send('op', { method: 'GET', url: '/hang' }, http.deadline()),
    ).rejects.toMatchObject({ failure: 'timeout' });
    expect(hits).toBe(1); // a timeout is not retried
    const refused = new VendorHttp('qwiet', 'http://127.0.0.1:9', transport);
    const error = await refused
      .send('op', { method: 'POST', url: '/x' }, refused.deadline())
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({
      failure: 'unreachable',
      message: 'Qwiet could not be reached (ECONNREFUSED)',
    });
    refused.close();
  });

  it('refuses vendorPath segments that would climb', () => {
    expect(() => vendorPath('orgs', '..')).toThrow();
    expect(() => vendorPath('orgs', '')).toThrow();
  });
});
