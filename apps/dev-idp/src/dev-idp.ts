import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, JWK, KeyLike, SignJWT } from 'jose';

/*
 * A development OpenID provider for `npm start` and the tests: discovery, a JWKS with an RS256 key
 * generated at start, the authorization code flow with PKCE (S256 required), a token endpoint and
 * end_session. No passwords: its login page lists a user of each example team and role, picked
 * with one click. Plain http on loopback only; production refuses it (discovery says
 * `keygate_dev: true`).
 */

export interface DevUser {
  sub: string;
  name: string;
  team: string;
  roles: string[];
  /** What the login page says about them. */
  description: string;
}

/** A user of each team and role of the example policy (config/policy.example.yaml). */
export const DEV_USERS: readonly DevUser[] = [
  {
    sub: 'alice',
    name: 'Alice',
    team: 'payments',
    roles: [],
    description: 'member of payments',
  },
  { sub: 'bob', name: 'Bob', team: 'platform', roles: [], description: 'member of platform' },
  {
    sub: 'audrey',
    name: 'Audrey',
    team: 'payments',
    roles: ['keygate:auditor'],
    description: 'auditor (payments)',
  },
  {
    sub: 'sam',
    name: 'Sam',
    team: 'platform',
    roles: ['keygate:security'],
    description: 'security engineer (platform)',
  },
  {
    sub: 'ada',
    name: 'Ada',
    team: 'platform',
    roles: ['keygate:admin'],
    description: 'admin (platform)',
  },
];

export interface DevClient {
  clientId: string;
  clientSecret: string;
}

export interface DevIdpOptions {
  clients: DevClient[];
  users?: readonly DevUser[];
  /** Claim names of the team and the roles in the ID token (default `team`, `roles`). */
  teamClaim?: string;
  rolesClaim?: string;
}

/** A code is good for this long, once. */
const CODE_SECONDS = 60;
/** A login page is good for this long. */
const PENDING_SECONDS = 600;
const MAX_PENDING = 1000;
const MAX_FORM_BYTES = 8192;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

interface Pending {
  clientId: string;
  redirectUri: string;
  state?: string;
  nonce?: string;
  codeChallenge: string;
  created: number;
}

interface IssuedCode extends Pending {
  user: DevUser;
  used: boolean;
}

const b64url = (bytes: Buffer) => bytes.toString('base64url');
const random = () => b64url(randomBytes(32));
const sha256 = (text: string) => createHash('sha256').update(text).digest();

const sameText = (a: string, b: string): boolean => timingSafeEqual(sha256(a), sha256(b));

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** A redirect URI the dev provider accepts: http(s) on loopback, ending in /auth/callback. */
export function isLoopbackCallback(uri: string): boolean {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    LOOPBACK.has(url.hostname) &&
    url.pathname.endsWith('/auth/callback') &&
    url.hash === '' &&
    url.username === '' &&
    url.password === ''
  );
}

const isLoopbackUrl = (uri: string): boolean => {
  try {
    const url = new URL(uri);
    return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK.has(url.hostname);
  } catch {
    return false;
  }
};

export class DevIdentityProvider {
  private readonly pending = new Map<string, Pending>();
  private readonly codes = new Map<string, IssuedCode>();
  private readonly users: readonly DevUser[];
  private readonly teamClaim: string;
  private readonly rolesClaim: string;
  /** Codes refused because they had been used already (tests read it). */
  replayedCodes = 0;
  /** The last tokens it issued (tests look for them where they must never be). */
  readonly issued: { code: string; idToken: string; accessToken: string }[] = [];

  private constructor(
    private readonly server: Server,
    readonly issuer: string,
    private readonly options: DevIdpOptions,
    private readonly privateKey: KeyLike,
    private readonly publicJwk: JWK,
  ) {
    this.users = options.users ?? DEV_USERS;
    this.teamClaim = options.teamClaim ?? 'team';
    this.rolesClaim = options.rolesClaim ?? 'roles';
  }

  /** Starts on `host:port` (port 0: an ephemeral one); the issuer is its http origin. */
  static async start(
    options: DevIdpOptions,
    port = 0,
    host = '127.0.0.1',
  ): Promise<DevIdentityProvider> {
    if (!LOOPBACK.has(host === '::1' ? '[::1]' : host))
      throw new Error(`the development OpenID provider listens on loopback only (not ${host})`);
    const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
    const jwk = await exportJWK(publicKey);
    const kid = b64url(sha256(JSON.stringify([jwk.e, jwk.kty, jwk.n])).subarray(0, 12));
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const address = server.address() as AddressInfo;
    const origin = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    const idp = new DevIdentityProvider(server, origin, options, privateKey, {
      ...jwk,
      kid,
      use: 'sig',
      alg: 'RS256',
    });
    server.on('request', (req, res) => {
      idp.handle(req, res).catch(() => {
        if (!res.headersSent) idp.page(res, 500, 'Error', 'The provider failed.');
        else res.end();
      });
    });
    return idp;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.issuer);
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /.well-known/openid-configuration':
        return this.json(res, 200, this.discovery());
      case 'GET /jwks':
        return this.json(res, 200, { keys: [this.publicJwk] });
      case 'GET /authorize':
        return this.authorize(url.searchParams, res);
      case 'POST /login':
        return this.login(await readForm(req), res);
      case 'POST /token':
        return this.token(req, await readForm(req), res);
      case 'GET /end_session':
        return this.endSession(url.searchParams, res);
      default:
        return this.page(res, 404, 'Not found', 'Nothing here.');
    }
  }

  private discovery(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      authorization_endpoint: `${this.issuer}/authorize`,
      token_endpoint: `${this.issuer}/token`,
      jwks_uri: `${this.issuer}/jwks`,
      end_session_endpoint: `${this.issuer}/end_session`,
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      grant_types_supported: ['authorization_code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      code_challenge_methods_supported: ['S256'],
      scopes_supported: ['openid', 'profile'],
      claims_supported: ['sub', 'name', 'nonce', this.teamClaim, this.rolesClaim],
      // Production Keygate refuses a provider that says this.
      keygate_dev: true,
    };
  }

  private authorize(q: URLSearchParams, res: ServerResponse): void {
    const clientId = q.get('client_id') ?? '';
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!this.options.clients.some((c) => c.clientId === clientId))
      return this.page(res, 400, 'Sign-in refused', 'Unknown client_id.');
    if (!isLoopbackCallback(redirectUri))
      return this.page(
        res,
        400,
        'Sign-in refused',
        'redirect_uri must be an http(s) URL on loopback ending in /auth/callback.',
      );
    const state = q.get('state') ?? undefined;
    const back = (error: string, description: string) => {
      const to = new URL(redirectUri);
      to.searchParams.set('error', error);
      to.searchParams.set('error_description', description);
      if (state !== undefined) to.searchParams.set('state', state);
      this.redirect(res, to.toString());
    };
    if (q.get('response_type') !== 'code')
      return back('unsupported_response_type', 'response_type must be code');
    if (!(q.get('scope') ?? '').split(' ').includes('openid'))
      return back('invalid_scope', 'scope must include openid');
    const challenge = q.get('code_challenge') ?? '';
    if (q.get('code_challenge_method') !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(challenge))
      return back('invalid_request', 'PKCE is required: code_challenge with method S256');
    this.prune();
    const rid = random();
    this.pending.set(rid, {
      clientId,
      redirectUri,
      state,
      nonce: q.get('nonce') ?? undefined,
      codeChallenge: challenge,
      created: Date.now(),
    });
    this.loginPage(res, rid);
  }

  private loginPage(res: ServerResponse, rid: string): void {
    const items = this.users
      .map((u) => {
        const label = `Sign in as ${u.name}, ${u.description}`;
        const roles = u.roles.length > 0 ? u.roles.join(', ') : 'no gateway role';
        return [
          '<li>',
          `<form method="post" action="/login" aria-label="${escapeHtml(label)}">`,
          `<input type="hidden" name="rid" value="${escapeHtml(rid)}">`,
          `<input type="hidden" name="user" value="${escapeHtml(u.sub)}">`,
          `<button type="submit">${escapeHtml(label)}</button>`,
          `<p>subject <code>${escapeHtml(u.sub)}</code>, team <code>${escapeHtml(u.team)}</code>, ${escapeHtml(roles)}</p>`,
          '</form>',
          '</li>',
        ].join('');
      })
      .join('');
    this.html(
      res,
      200,
      'Development sign-in',
      [
        '<main aria-labelledby="title">',
        '<h1 id="title">Keygate development sign-in</h1>',
        '<p>A development identity provider: pick a user. Production Keygate refuses this provider.</p>',
        `<ul aria-label="Users">${items}</ul>`,
        '</main>',
      ].join(''),
    );
  }

  private login(form: URLSearchParams, res: ServerResponse): void {
    const rid = form.get('rid') ?? '';
    const pending = this.pending.get(rid);
    this.pending.delete(rid);
    const user = this.users.find((u) => u.sub === form.get('user'));
    if (!pending || Date.now() - pending.created > PENDING_SECONDS * 1000)
      return this.page(res, 400, 'Sign-in refused', 'This sign-in has expired: start again.');
    if (!user) return this.page(res, 400, 'Sign-in refused', 'Unknown user.');
    const code = random();
    this.codes.set(code, { ...pending, created: Date.now(), user, used: false });
    const to = new URL(pending.redirectUri);
    to.searchParams.set('code', code);
    if (pending.state !== undefined) to.searchParams.set('state', pending.state);
    this.redirect(res, to.toString());
  }

  private async token(
    req: IncomingMessage,
    form: URLSearchParams,
    res: ServerResponse,
  ): Promise<void> {
    const client = this.clientOf(req, form);
    if (!client) return this.json(res, 401, { error: 'invalid_client' });
    if (form.get('grant_type') !== 'authorization_code')
      return this.json(res, 400, { error: 'unsupported_grant_type' });
    const code = form.get('code') ?? '';
    const issued = this.codes.get(code);
    const refuse = (description: string) =>
      this.json(res, 400, { error: 'invalid_grant', error_description: description });
    if (!issued) return refuse('unknown code');
    if (issued.used) {
      this.replayedCodes += 1;
      this.codes.delete(code);
      return refuse('code already used');
    }
    issued.used = true;
    if (Date.now() - issued.created > CODE_SECONDS * 1000) return refuse('code expired');
    if (issued.clientId !== client.clientId) return refuse('code of another client');
    if (form.get('redirect_uri') !== issued.redirectUri) return refuse('redirect_uri differs');
    const verifier = form.get('code_verifier') ?? '';
    if (
      !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) ||
      b64url(sha256(verifier)) !== issued.codeChallenge
    )
      return refuse('code_verifier does not match the code_challenge');
    const user = issued.user;
    const idToken = await new SignJWT({
      name: user.name,
      [this.teamClaim]: user.team,
      [this.rolesClaim]: user.roles,
      ...(issued.nonce !== undefined && { nonce: issued.nonce }),
      auth_time: Math.floor(Date.now() / 1000),
    })
      .setProtectedHeader({ alg: 'RS256', kid: this.publicJwk.kid as string, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(user.sub)
      .setAudience(client.clientId)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(this.privateKey);
    const accessToken = random();
    this.issued.push({ code, idToken, accessToken });
    if (this.issued.length > 100) this.issued.shift();
    this.json(res, 200, {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'openid profile',
      id_token: idToken,
    });
  }

  /** client_secret_basic (form-encoded id and secret, RFC 6749 2.3.1) or client_secret_post. */
  private clientOf(req: IncomingMessage, form: URLSearchParams): DevClient | undefined {
    let id = form.get('client_id') ?? '';
    let secret = form.get('client_secret') ?? '';
    const basic = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    if (basic) {
      const text = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = text.indexOf(':');
      if (colon < 0) return undefined;
      const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      try {
        id = decode(text.slice(0, colon));
        secret = decode(text.slice(colon + 1));
      } catch {
        return undefined;
      }
    }
    const client = this.options.clients.find((c) => c.clientId === id);
    return client && sameText(client.clientSecret, secret) ? client : undefined;
  }

  private endSession(q: URLSearchParams, res: ServerResponse): void {
    const back = q.get('post_logout_redirect_uri');
    if (back && isLoopbackUrl(back)) {
      const to = new URL(back);
      const state = q.get('state');
      if (state) to.searchParams.set('state', state);
      return this.redirect(res, to.toString());
    }
    this.page(res, 200, 'Signed out', 'You are signed out of the development provider.');
  }

  private prune(): void {
    const now = Date.now();
    for (const [rid, p] of this.pending)
      if (now - p.created > PENDING_SECONDS * 1000 || this.pending.size > MAX_PENDING)
        this.pending.delete(rid);
    for (const [code, c] of this.codes)
      if (now - c.created > CODE_SECONDS * 1000 * 10 || this.codes.size > MAX_PENDING)
        this.codes.delete(code);
  }

  private redirect(res: ServerResponse, location: string): void {
    res.writeHead(303, { Location: location, 'Cache-Control': 'no-store' });
    res.end();
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
      Pragma: 'no-cache',
    });
    res.end(JSON.stringify(body));
  }

  private page(res: ServerResponse, status: number, title: string, text: string): void {
    this.html(
      res,
      status,
      title,
      `<main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></main>`,
    );
  }

  private html(res: ServerResponse, status: number, title: string, body: string): void {
    res.writeHead(status, {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      // No script at all; forms post to this origin and redirect to the client (no form-action).
      'Content-Security-Policy': "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    res.end(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body>${body}</body></html>`,
    );
  }
}

/** An application/x-www-form-urlencoded body of at most MAX_FORM_BYTES. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
