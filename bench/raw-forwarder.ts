/**
 * The baseline of `npm run bench`: a plain node:http forwarder with a keep-alive agent in front of
 * the same simulator, doing only what a proxy must (swap the caller's credential for the vendor's).
 * Anything Keygate adds (JWT, validation, policy, durable audit, logging) is measured against it.
 */
import http from 'node:http';

const qwietBase = new URL(process.env.QWIET_BASE_URL ?? '');
const octaneBase = new URL(process.env.OCTANE_BASE_URL ?? '');
const orgTokens: Record<string, string> = JSON.parse(process.env.QWIET_ORG_TOKENS ?? '{}');
const spaces: Record<string, { client_id: string; client_secret: string }> = JSON.parse(
  process.env.OCTANE_CREDENTIALS ?? '{}',
);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const cookies: Record<string, string> = {};

async function signIn(space: string): Promise<void> {
  const body = JSON.stringify(spaces[space]);
  await new Promise<void>((resolve, reject) => {
    const req = http.request(
      new URL('/authentication/sign_in', octaneBase),
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        cookies[space] = (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
        res.resume().on('end', resolve);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  const qwiet = /^\/qwiet\/api\/v4\/orgs\/([^/]+)(\/.*)$/.exec(url);
  const octane = /^\/octane(\/api\/shared_spaces\/([^/]+)\/.*)$/.exec(url);
  let target: URL;
  const headers: http.OutgoingHttpHeaders = {
    'content-type': req.headers['content-type'] ?? 'application/json',
  };
  if (req.headers['content-length']) headers['content-length'] = req.headers['content-length'];
  if (qwiet) {
    target = new URL(
      `${qwietBase.pathname.replace(/\/$/, '')}/orgs/${qwiet[1]}${qwiet[2]}`,
      qwietBase,
    );
    headers.authorization = `Bearer ${orgTokens[qwiet[1]]}`;
  } else if (octane) {
    target = new URL(octane[1], octaneBase);
    headers.cookie = cookies[octane[2]];
    headers['alm-octane-tech-preview'] = 'true';
  } else {
    res.writeHead(404).end();
    return;
  }
  const upstream = http.request(target, { method: req.method, headers, agent }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, {
      'content-type': answer.headers['content-type'] ?? 'application/json',
    });
    answer.pipe(res);
  });
  upstream.on('error', () => res.writeHead(502).end());
  req.pipe(upstream);
});

async function main(): Promise<void> {
  for (const space of Object.keys(spaces)) await signIn(space);
  server.keepAliveTimeout = 65_000;
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    process.stdout.write(`raw forwarder listening on ${JSON.stringify(server.address())}\n`);
  });
}

void main();
