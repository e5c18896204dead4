import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpstreamError } from './upstream.errors';
import { VendorHttp, vendorPath } from './vendor-http';

const transport = {
  // Long enough for a loopback answer on a loaded machine; the hanging call waits this long.
  timeoutMs: 1000,
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
      // Declares 6 MiB, sends one byte and then nothing: only the declared length can refuse it.
      if (req.url === '/api/big') {
        return res.writeHead(200, { 'content-length': String(6 * 1024 * 1024) }).write('x');
      }
      // 6 MiB with no declared length (chunked): refused once the bytes read pass the cap.
      if (req.url === '/api/big-chunked')
        return res.write('x'.repeat(6 * 1024 * 1024), () => res.end());
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
    // Reading 5 MiB may take longer than a second on a loaded machine: a patient client for this one.
    const patient = new VendorHttp('qwiet', http.client.defaults.baseURL as string, {
      ...transport,
      timeoutMs: 30_000,
      deadlineMs: 30_000,
    });
    await expect(
      patient.send('op', { method: 'GET', url: '/big-chunked' }, patient.deadline()),
    ).rejects.toMatchObject({ failure: 'bad_response' });
    patient.close();
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

/** A server of our own for one describe block: started before its tests, every socket ended after. */
function useServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const started = {} as { server: Server; url: string };
  beforeAll(async () => {
    started.server = createServer(handler);
    await new Promise<void>((resolve) => started.server.listen(0, '127.0.0.1', resolve));
    started.url = `http://127.0.0.1:${(started.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    started.server.closeAllConnections();
    await new Promise((resolve) => started.server.close(resolve));
  });
  return started;
}

/** Runs `call`, resolving to what it threw (or returned) and how long it took in ms. */
async function timed(call: () => Promise<unknown>): Promise<{ outcome: unknown; ms: number }> {
  const started = performance.now();
  const outcome = await call().catch((error: unknown) => error);
  return { outcome, ms: performance.now() - started };
}

describe('VendorHttp: the attempt timeout and the deadline bound the whole call', () => {
  // Generous margins: the machine is shared; the point is the timeout versus the seconds the old
  // code took (8 s of dripping, 8 x 400 ms queued for a socket), not ms.
  const MARGIN_MS = 1500;

  describe('a vendor that drips its answer, a byte every 200 ms', () => {
    let closed = 0;
    const drip = useServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      let sent = 0;
      // Bounded: 40 bytes, 8 s; stops as soon as the client hangs up.
      const timer = setInterval(() => {
        if (++sent >= 40) {
          clearInterval(timer);
          res.end('0]');
        } else res.write('0,');
      }, 200);
      req.socket.on('close', () => {
        clearInterval(timer);
        closed++;
      });
    });

    it('fails a create with timeout once the attempt timeout is spent, and drops the half-read socket', async () => {
      const http = new VendorHttp('qwiet', drip.url, { ...transport, timeoutMs: 500 });
      try {
        const { outcome, ms } = await timed(() =>
          http.send('op', { method: 'POST', url: '/x', data: {} }, http.deadline()),
        );
        expect(outcome).toBeInstanceOf(UpstreamError);
        expect(outcome).toMatchObject({ failure: 'timeout' });
        expect(ms).toBeLessThan(500 + MARGIN_MS);
        // The server sees its socket closed: never kept alive for reuse half-read.
        await new Promise<void>((resolve) => {
          const poll = () => (closed >= 1 ? resolve() : setImmediate(poll));
          poll();
        });
        expect(closed).toBe(1);
      } finally {
        http.close();
      }
    });

    it('ends a read at the request deadline when it comes before the attempt timeout', async () => {
      const http = new VendorHttp('qwiet', drip.url, {
        ...transport,
        timeoutMs: 5000,
        deadlineMs: 600,
      });
      try {
        const { outcome, ms } = await timed(() =>
          http.send('op', { method: 'GET', url: '/x' }, http.deadline()),
        );
        expect(outcome).toMatchObject({ failure: 'timeout' });
        expect(ms).toBeLessThan(600 + MARGIN_MS);
      } finally {
        http.close();
      }
    });
  });

  describe('a vendor that never answers, with 2 sockets', () => {
    const hung: ServerResponse[] = [];
    const hang = useServer((_req, res) => void hung.push(res));

    it('times out 16 concurrent creates each within the timeout of the call, time queued for a socket included', async () => {
      const http = new VendorHttp('qwiet', hang.url, {
        ...transport,
        timeoutMs: 400,
        maxSockets: 2,
      });
      try {
        const calls = await Promise.all(
          Array.from({ length: 16 }, () =>
            timed(() => http.send('op', { method: 'POST', url: '/x', data: {} }, http.deadline())),
          ),
        );
        for (const { outcome } of calls) expect(outcome).toMatchObject({ failure: 'timeout' });
        // Queued behind the 2 sockets, the last ones took 8 x 400 ms before.
        expect(Math.max(...calls.map((c) => c.ms))).toBeLessThan(400 + MARGIN_MS);
      } finally {
        http.close();
      }
    });
  });
});
