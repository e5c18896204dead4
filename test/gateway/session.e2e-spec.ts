import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { Client } from 'pg';
import { DevIdentityProvider } from '../../apps/dev-idp/src/dev-idp';
import { loadGatewayConfig } from '../../apps/gateway/src/config/env.validation';
import { refuseDevelopmentProvider } from '../../apps/gateway/src/session/production-checks';
import { SessionStore } from '../../apps/gateway/src/session/session.store';
import { runToExit, tsNodeArgs } from '../support/processes';
import {
  gatewayEnv,
  startGateway,
  StartedGateway,
  StartedSimulator,
  useStack,
} from '../support/gateway';

/*
 * The console's sign-in (README "Console sign-in"), driven over real HTTP as a browser would: the
 * redirects followed by hand with a cookie jar, through the development OpenID provider started
 * in-process on an ephemeral port, against the real gateway and PostgreSQL. Session timeouts move
 * with the simulator's clock (the gateway's clock in these tests), never by sleeping.
 */

const CLIENT = { clientId: 'keygate-console', clientSecret: 'dev-client-secret-0123456789abcdef' };
const CI_ROLE_ID = '66ad5168-41be-4b6c-9ac5-a30b02229c35';
const IDLE = 600;
const ABSOLUTE = 1800;
/** A pending sign-in's life (LOGIN_REQUEST_SECONDS). */
const LOGIN_WINDOW = 600;
const CSP =
  "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'";

interface Answer {
  status: number;
  location?: string;
  setCookies: string[];
  headers: Headers;
  text: string;
}

/** A browser's view of HTTP: one cookie jar (loopback hosts share cookies, as in a browser). */
class Browser {
  readonly cookies = new Map<string, string>();
  /** Everything the browser received: no token may be in it. */
  readonly seen: string[] = [];

  constructor(private readonly extraHeaders: Record<string, string> = {}) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { ...this.extraHeaders, ...init.headers };
    if (this.cookies.size > 0) headers.cookie = this.cookieHeader();
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      headers,
      body: init.body,
      redirect: 'manual',
    });
    const text = await res.text();
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair, ...attributes] = line.split(';').map((p) => p.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (attributes.some((a) => /^max-age=0$/i.test(a)) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const answer = {
      status: res.status,
      location: res.headers.get('location') ?? undefined,
      setCookies,
      headers: res.headers,
      text,
    };
    this.seen.push(JSON.stringify([...res.headers]), text);
    return answer;
  }

  postForm(url: string, form: Record<string, string>): Promise<Answer> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
  }
}

/** One request with headers fetch() will not send as given (Host). */
function plainRequest(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = httpRequest(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The provider's login page: the form that signs in `user` (its hidden rid). */
function ridFor(page: string, user: string): string {
  const forms = page.split('<form').slice(1);
  const form = forms.find((f) => f.includes(`name="user" value="${user}"`));
  const rid = form && /name="rid" value="([^"]+)"/.exec(form);
  if (!rid) throw new Error(`no login form for ${user}`);
  return rid[1];
}

describe('gateway: console sign-in (OIDC BFF)', () => {
  let idp: DevIdentityProvider;
  beforeAll(async () => {
    idp = await DevIdentityProvider.start({ clients: [CLIENT] });
  });
  afterAll(async () => idp?.close());

  const oidcEnv = (): NodeJS.ProcessEnv => ({
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: CLIENT.clientId,
    OIDC_CLIENT_SECRET: CLIENT.clientSecret,
    SESSION_IDLE_SECONDS: String(IDLE),
    SESSION_ABSOLUTE_SECONDS: String(ABSOLUTE),
  });
  const stack = useStack(() => oidcEnv(), {}, { clock: 'simulator' });
  let g: StartedGateway;
  let s: StartedSimulator;
  beforeAll(() => {
    ({ g, s } = stack);
    // What `npm start` does for the provider it started itself (production refuses it).
    g.config.signIn.oidc!.allowDevelopmentProvider = true;
  });

  const tokens = () => `${g.url}/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/tokens`;
  const issueBody = (label: string) =>
    JSON.stringify({ label, role_id: CI_ROLE_ID, token_type: 'access', valid_for_seconds: 600 });
  const json = { 'content-type': 'application/json' };

  /** login -> provider -> pick the user -> callback -> session; returns the steps' answers. */
  async function signIn(browser: Browser, user = 'alice', gateway = g.url) {
    const login = await browser.request(`${gateway}/auth/login`);
    expect(login.status).toBe(302);
    const page = await browser.request(login.location as string);
    expect(page.status).toBe(200);
    const picked = await browser.postForm(`${idp.issuer}/login`, {
      rid: ridFor(page.text, user),
      user,
    });
    expect(picked.status).toBe(303);
    const callbackUrl = picked.location as string;
    const callback = await browser.request(callbackUrl);
    return { login, page, picked, callbackUrl, callback };
  }

  async function session(browser: Browser) {
    const res = await browser.request(`${g.url}/auth/session`);
    return { status: res.status, body: JSON.parse(res.text) as Record<string, unknown> };
  }

  async function signedIn(user = 'alice') {
    const browser = new Browser();
    const flow = await signIn(browser, user);
    expect(flow.callback.status).toBe(302);
    const who = await session(browser);
    expect(who.status).toBe(200);
    return { browser, csrf: who.body.csrf_token as string, flow };
  }

  const sessionCookie = (b: Browser) => b.cookies.get('keygate_session') as string;

  async function sql<T>(query: string, values: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: g.db.url });
    await client.connect();
    try {
      return (await client.query(query, values)).rows as T[];
    } finally {
      await client.end();
    }
  }

  it('signs in by the code flow with PKCE S256, state and nonce, and keeps a hashed session', async () => {
    const browser = new Browser();
    const { login, callback } = await signIn(browser, 'alice');

    const authorize = new URL(login.location as string);
    expect(authorize.origin).toBe(idp.issuer);
    expect(authorize.searchParams.get('response_type')).toBe('code');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authorize.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(authorize.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${g.url}/auth/callback`);
    expect(authorize.searchParams.has('code_verifier')).toBe(false);

    // The login cookie binds the sign-in to this browser; it is spent at the callback.
    const loginCookie = login.setCookies.find((c) => c.startsWith('keygate_login='));
    expect(loginCookie).toMatch(/; HttpOnly/);
    expect(loginCookie).toMatch(/; SameSite=Lax/);

    expect(callback.status).toBe(302);
    expect(callback.location).toBe('/console/');
    expect(browser.cookies.has('keygate_login')).toBe(false);
    const cookie = callback.setCookies.find((c) => c.startsWith('keygate_session='));
    expect(cookie).toBeDefined();
    const attributes = (cookie as string).split('; ');
    expect(attributes).toEqual(
      expect.arrayContaining(['Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${ABSOLUTE}`]),
    );
    // Plain http on loopback: no Secure, so no __Host- prefix (README).
    expect(attributes).not.toContain('Secure');
    expect(attributes.some((a) => a.startsWith('Domain'))).toBe(false);
    const id = sessionCookie(browser);
    expect(Buffer.from(id, 'base64url').length).toBeGreaterThanOrEqual(16);

    const who = await session(browser);
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({
      subject: 'alice',
      team: 'payments',
      roles: [],
      via: 'session',
    });
    expect(who.body.csrf_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const created = Date.parse(who.body.created_at as string);
    expect(Date.parse(who.body.expires_at as string) - created).toBe(ABSOLUTE * 1000);
    expect(Date.parse(who.body.idle_expires_at as string)).toBeGreaterThan(created);

    // PostgreSQL holds the id's SHA-256, never the id.
    const rows = await sql<Record<string, unknown>>('SELECT * FROM sessions WHERE id_hash = $1', [
      createHash('sha256').update(id).digest('hex'),
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ subject: 'alice', team: 'payments', roles: [] });
    expect(JSON.stringify(await sql('SELECT * FROM sessions'))).not.toContain(id);
  });

  it('maps roles from the ID token: an auditor reads the audit log through the session', async () => {
    const { browser } = await signedIn('audrey');
    expect((await session(browser)).body).toMatchObject({
      subject: 'audrey',
      team: 'payments',
      roles: ['keygate:auditor'],
    });
    expect((await browser.request(`${g.url}/v1/audit?limit=1`)).status).toBe(200);
    const { browser: member } = await signedIn('alice');
    expect((await member.request(`${g.url}/v1/audit?limit=1`)).status).toBe(403);
  });

  it('401 without a session, and for a cookie that names none', async () => {
    const none = await new Browser().request(`${g.url}/auth/session`);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).code).toBe('UNAUTHENTICATED');
    const forged = new Browser();
    forged.cookies.set('keygate_session', 'A'.repeat(43));
    expect((await forged.request(`${g.url}/auth/session`)).status).toBe(401);
    expect((await forged.request(`${g.url}/v1/policy`)).status).toBe(401);
  });

  it('state-changing requests through the session need its CSRF token; with it, an issuance is recorded with actor.via session', async () => {
    const { browser, csrf } = await signedIn('alice');
    const other = await signedIn('bob');
    const before = (await s.admin.state()).qwiet.tokens.length;

    const without = await browser.request(tokens(), {
      method: 'POST',
      headers: json,
      body: issueBody('no-csrf'),
    });
    expect(without.status).toBe(403);
    expect(JSON.parse(without.text).code).toBe('CSRF_REQUIRED');

    const othersToken = await browser.request(tokens(), {
      method: 'POST',
      headers: { ...json, 'x-csrf-token': other.csrf },
      body: issueBody('other-csrf'),
    });
    expect(othersToken.status).toBe(403);
    expect(JSON.parse(othersToken.text).code).toBe('CSRF_REQUIRED');
    expect((await s.admin.state()).qwiet.tokens.length).toBe(before);

    // Reads need no CSRF token.
    expect((await browser.request(tokens())).status).toBe(200);

    const issued = await browser.request(tokens(), {
      method: 'POST',
      headers: { ...json, 'x-csrf-token': csrf, 'x-request-id': 'session-issue-0001' },
      body: issueBody('through-session'),
    });
    expect(issued.status).toBe(200);
    expect((await s.admin.state()).qwiet.tokens.length).toBe(before + 1);

    const auditor = `Bearer ${await g.token({ team: 'security', sub: 'eve', roles: ['keygate:auditor'] })}`;
    const records = await g
      .http()
      .get('/v1/audit?request_id=session-issue-0001')
      .set('Authorization', auditor)
      .expect(200);
    const changes = records.body.records.filter(
      (r: { event: string }) => r.event === 'qwiet.token.issue',
    );
    expect(changes.map((r: { phase: string }) => r.phase).sort()).toEqual(['attempt', 'succeeded']);
    for (const r of changes)
      expect(r.actor).toMatchObject({ subject: 'alice', team: 'payments', via: 'session' });
  });

  it('bearer callers are unaffected (no CSRF token, via bearer), and a bearer wins over a cookie', async () => {
    const { browser } = await signedIn('alice');
    const bob = await g.token({ team: 'platform', sub: 'bob-bearer' });
    const orgB = s.options.qwietOrgs[1].id;
    // Bob's bearer and Alice's cookie: the bearer decides (Bob's org, no CSRF token asked).
    const res = await browser.request(`${g.url}/qwiet/api/v4/orgs/${orgB}/tokens`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${bob}`, 'x-request-id': 'bearer-wins-0001' },
      body: issueBody('bearer-wins'),
    });
    expect(res.status).toBe(200);
    // A bad bearer is not rescued by a good cookie.
    const bad = await browser.request(tokens(), {
      headers: { authorization: 'Bearer not.a.jwt' },
    });
    expect(bad.status).toBe(401);

    const auditor = `Bearer ${await g.token({ team: 'security', sub: 'eve', roles: ['keygate:auditor'] })}`;
    const records = await g
      .http()
      .get('/v1/audit?request_id=bearer-wins-0001')
      .set('Authorization', auditor)
      .expect(200);
    for (const r of records.body.records.filter((x: { event: string }) => x.event !== 'audit.read'))
      expect(r.actor).toMatchObject({ subject: 'bob-bearer', team: 'platform', via: 'bearer' });
  });

  it('idle timeout: refused and deleted after SESSION_IDLE_SECONDS unused; activity keeps it alive', async () => {
    const { browser } = await signedIn('alice');
    const hash = createHash('sha256').update(sessionCookie(browser)).digest('hex');
    await s.admin.advanceClock(IDLE - 60);
    expect((await session(browser)).status).toBe(200);
    await s.admin.advanceClock(IDLE - 60);
    expect((await session(browser)).status).toBe(200);
    await s.admin.advanceClock(IDLE + 1);
    const expired = await session(browser);
    expect(expired.status).toBe(401);
    expect(await sql('SELECT 1 FROM sessions WHERE id_hash = $1', [hash])).toHaveLength(0);
    expect((await browser.request(tokens())).status).toBe(401);
  });

  it('absolute timeout: refused after SESSION_ABSOLUTE_SECONDS however active', async () => {
    const { browser } = await signedIn('alice');
    const hash = createHash('sha256').update(sessionCookie(browser)).digest('hex');
    const step = IDLE - 100;
    let elapsed = 0;
    while (elapsed + step < ABSOLUTE) {
      await s.admin.advanceClock(step);
      elapsed += step;
      expect((await session(browser)).status).toBe(200);
    }
    await s.admin.advanceClock(ABSOLUTE - elapsed + 1);
    expect((await session(browser)).status).toBe(401);
    expect(await sql('SELECT 1 FROM sessions WHERE id_hash = $1', [hash])).toHaveLength(0);
  });

  it('logout ends the session server-side (CSRF token required) and points at the provider’s end_session', async () => {
    const { browser, csrf } = await signedIn('alice');
    const stolen = sessionCookie(browser);

    const refused = await browser.request(`${g.url}/auth/logout`, { method: 'POST' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text).code).toBe('CSRF_REQUIRED');
    expect((await session(browser)).status).toBe(200);

    const out = await browser.request(`${g.url}/auth/logout`, {
      method: 'POST',
      headers: { 'x-csrf-token': csrf },
    });
    expect(out.status).toBe(200);
    const body = JSON.parse(out.text);
    expect(body.logged_out).toBe(true);
    const end = new URL(body.redirect);
    expect(`${end.origin}${end.pathname}`).toBe(`${idp.issuer}/end_session`);
    expect(end.searchParams.get('client_id')).toBe(CLIENT.clientId);
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${g.url}/console/`);
    expect(end.searchParams.has('id_token_hint')).toBe(false);
    expect(browser.cookies.has('keygate_session')).toBe(false);

    // The old cookie, replayed by whoever kept it, names nothing any more.
    const replay = new Browser();
    replay.cookies.set('keygate_session', stolen);
    expect((await replay.request(`${g.url}/auth/session`)).status).toBe(401);
    expect((await replay.request(tokens())).status).toBe(401);
    const provider = await browser.request(body.redirect);
    expect(provider.status).toBe(303);
    expect(provider.location).toBe(`${g.url}/console/`);
  });

  it('a tampered state is refused, and the sign-in it belonged to is used up', async () => {
    const browser = new Browser();
    await browser.request(`${g.url}/auth/login`).then(async (login) => {
      const page = await browser.request(login.location as string);
      const picked = await browser.postForm(`${idp.issuer}/login`, {
        rid: ridFor(page.text, 'alice'),
        user: 'alice',
      });
      const callback = new URL(picked.location as string);
      const loginCookie = browser.cookies.get('keygate_login') as string;
      const state = callback.searchParams.get('state') as string;
      callback.searchParams.set('state', `${state.slice(0, -1)}${state.endsWith('A') ? 'B' : 'A'}`);
      const tampered = await browser.request(callback.toString());
      expect(tampered.status).toBe(400);
      expect(JSON.parse(tampered.text).code).toBe('SIGN_IN_FAILED');
      expect(browser.cookies.has('keygate_session')).toBe(false);
      // The genuine callback after it: that sign-in is gone (one use).
      browser.cookies.set('keygate_login', loginCookie);
      const genuine = await browser.request(picked.location as string);
      expect(genuine.status).toBe(400);
      expect(browser.cookies.has('keygate_session')).toBe(false);
    });
    // A callback without any sign-in under way in this browser.
    const stranger = await new Browser().request(`${g.url}/auth/callback?code=x&state=y`);
    expect(stranger.status).toBe(400);
    expect(JSON.parse(stranger.text).code).toBe('SIGN_IN_FAILED');
  });

  it('a replayed code is refused: by the used-up sign-in, and by the provider under a fresh one', async () => {
    const browser = new Browser();
    const first = await signIn(browser, 'alice');
    expect(first.callback.status).toBe(302);
    const loginCookie = first.login.setCookies
      .find((c) => c.startsWith('keygate_login='))!
      .split(';')[0]
      .split('=')[1];
    // The same callback again, login cookie and all: the sign-in was used.
    const attacker = new Browser();
    attacker.cookies.set('keygate_login', loginCookie);
    const again = await attacker.request(first.callbackUrl);
    expect(again.status).toBe(400);
    expect(attacker.cookies.has('keygate_session')).toBe(false);

    // A fresh sign-in in the attacker's browser, its state, the old code: the provider refuses.
    const fresh = await attacker.request(`${g.url}/auth/login`);
    const state = new URL(fresh.location as string).searchParams.get('state') as string;
    const oldCode = new URL(first.callbackUrl).searchParams.get('code') as string;
    const replayedBefore = idp.replayedCodes;
    const replay = await attacker.request(
      `${g.url}/auth/callback?code=${encodeURIComponent(oldCode)}&state=${encodeURIComponent(state)}`,
    );
    expect(replay.status).toBe(400);
    expect(JSON.parse(replay.text).code).toBe('SIGN_IN_FAILED');
    expect(idp.replayedCodes).toBe(replayedBefore + 1);
    expect(attacker.cookies.has('keygate_session')).toBe(false);
  });

  it('the console’s and sign-in pages carry the CSP without inline script, nosniff and no-referrer', async () => {
    const browser = new Browser();
    for (const path of ['/auth/login', '/auth/session', '/console/']) {
      const res = await browser.request(`${g.url}${path}`);
      expect([path, res.headers.get('content-security-policy')]).toEqual([path, CSP]);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
    const login = await browser.request(`${g.url}/auth/login`);
    expect(login.headers.get('cache-control')).toBe('no-store');
  });

  it('never lets a token, code or secret reach the browser or a log line', async () => {
    const { browser, flow } = await signedIn('alice');
    const code = new URL(flow.callbackUrl).searchParams.get('code') as string;
    const issued = idp.issued.find((t) => t.code === code);
    expect(issued).toBeDefined();
    const { idToken, accessToken } = issued!;
    const gatewaySeen = browser.seen.join('\n');
    expect(gatewaySeen).not.toContain(idToken);
    expect(gatewaySeen).not.toContain(accessToken);
    expect(gatewaySeen).not.toContain(CLIENT.clientSecret);
    const logs = g.logs.text();
    expect(logs).toContain('/auth/callback');
    for (const secret of [
      idToken,
      accessToken,
      code,
      CLIENT.clientSecret,
      sessionCookie(browser),
      (await session(browser)).body.csrf_token as string,
    ])
      expect(logs).not.toContain(secret);
    const stored = JSON.stringify(await sql('SELECT * FROM sessions'));
    expect(stored).not.toContain(idToken);
    expect(stored).not.toContain(accessToken);
  });

  it('a new sign-in in the same browser ends the session it replaces', async () => {
    const { browser } = await signedIn('alice');
    const first = sessionCookie(browser);
    await signIn(browser, 'bob');
    expect(sessionCookie(browser)).not.toBe(first);
    expect((await session(browser)).body.subject).toBe('bob');
    const old = new Browser();
    old.cookies.set('keygate_session', first);
    expect((await old.request(`${g.url}/auth/session`)).status).toBe(401);
  });

  it('the provider’s own refusal (error=...) is a 400 naming it; no session', async () => {
    const browser = new Browser();
    const login = await browser.request(`${g.url}/auth/login`);
    const state = new URL(login.location as string).searchParams.get('state') as string;
    const res = await browser.request(
      `${g.url}/auth/callback?error=access_denied&state=${encodeURIComponent(state)}`,
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ code: 'SIGN_IN_FAILED' });
    expect(JSON.parse(res.text).message).toContain('access_denied');
    expect(browser.cookies.has('keygate_session')).toBe(false);
  });

  /** Signs alice in asking to return to `asked`: each `[asked, landed]` pair is where she lands. */
  const expectLandings = async (cases: [string, string][]) => {
    for (const [asked, landed] of cases) {
      const browser = new Browser();
      const login = await browser.request(
        `${g.url}/auth/login?return_to=${encodeURIComponent(asked)}`,
      );
      const page = await browser.request(login.location as string);
      const picked = await browser.postForm(`${idp.issuer}/login`, {
        rid: ridFor(page.text, 'alice'),
        user: 'alice',
      });
      const callback = await browser.request(picked.location as string);
      expect([asked, callback.status, callback.location]).toEqual([asked, 302, landed]);
    }
  };

  it('return_to keeps the browser inside /console, never elsewhere', async () => {
    await expectLandings([
      ['/console/audit?page=2', '/console/audit?page=2'],
      ['https://evil.example/console', '/console/'],
      ['//evil.example/console', '/console/'],
      ['/console//evil.example', '/console/'],
      ['/docs', '/console/'],
    ]);
  });

  describe('an attacker’s review', () => {
    it('served over plain http to a host that is not loopback (TLS ended by a proxy Keygate does not trust), the cookies are still __Host- and Secure', async () => {
      const res = await plainRequest(`${g.url}/auth/login`, { host: 'keygate.example.com' });
      expect(res.status).toBe(302);
      const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? [])[0];
      expect(cookie).toMatch(
        /^__Host-keygate_login=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure/,
      );
      const redirect = new URL(res.headers.location as string).searchParams.get('redirect_uri');
      expect(redirect).toBe('https://keygate.example.com/auth/callback');
      // A session cookie by the bare name is not read for that host either.
      const { browser } = await signedIn('alice');
      const tossed = await plainRequest(`${g.url}/auth/session`, {
        host: 'keygate.example.com',
        cookie: `keygate_session=${sessionCookie(browser)}`,
      });
      expect(tossed.status).toBe(401);
    });

    it('the console’s CSP and framing refusal are on every answer of its routes, however the path is spelled', async () => {
      for (const path of [
        '/%63onsole/',
        '/%63onsole/audit',
        '/%63onsole/missing.js',
        '/console/missing.js',
      ]) {
        const res = await new Browser().request(`${g.url}${path}`);
        expect([path, res.headers.get('content-security-policy')]).toEqual([path, CSP]);
        expect([path, res.headers.get('x-frame-options')]).toEqual([path, 'DENY']);
      }
      const session = await new Browser().request(`${g.url}/%61uth/session`);
      expect(session.headers.get('content-security-policy')).toBe(CSP);
      expect(session.headers.get('cache-control')).toBe('no-store');
    });

    it('the callback’s code and state reach no log line, however the path is spelled', async () => {
      const code = 'probe-code-Zq8v3LrT0cXk';
      const state = 'probe-state-Wm4nB7yHs2Pe';
      const res = await new Browser().request(
        `${g.url}/%61uth/callback?code=${code}&state=${state}`,
      );
      expect(res.status).toBe(400);
      expect(g.logs.text()).not.toContain(code);
      expect(g.logs.text()).not.toContain(state);
    });

    it('return_to cannot climb out of /console by dot segments', async () => {
      await expectLandings([
        ['/console/../v1/audit/verify', '/console/'],
        ['/console/%2e%2e/docs', '/console/'],
        ['/console/./audit', '/console/audit'],
      ]);
    });

    it('a cross-site request through the session cookie is refused, GETs included (they write audit.read); bearer callers and same-origin calls are not', async () => {
      const { browser } = await signedIn('audrey');
      for (const site of ['cross-site', 'same-site']) {
        const res = await browser.request(`${g.url}/v1/audit/verify`, {
          headers: { 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate' },
        });
        expect([site, res.status, JSON.parse(res.text).code]).toEqual([site, 403, 'CSRF_REQUIRED']);
      }
      for (const site of ['same-origin', 'none']) {
        const res = await browser.request(`${g.url}/v1/audit?limit=1`, {
          headers: { 'sec-fetch-site': site },
        });
        expect([site, res.status]).toEqual([site, 200]);
      }
      const auditor = await g.token({ team: 'security', sub: 'eve', roles: ['keygate:auditor'] });
      const bearer = await new Browser().request(`${g.url}/v1/audit?limit=1`, {
        headers: { authorization: `Bearer ${auditor}`, 'sec-fetch-site': 'cross-site' },
      });
      expect(bearer.status).toBe(200);
    });

    describe('anonymous GET /auth/login cannot flood login_requests', () => {
      let store: SessionStore;
      let saved: { perAddress: number; total: number };
      beforeAll(() => {
        store = g.app.get(SessionStore);
        saved = { perAddress: store.loginsPerAddress, total: store.maxLoginRequests };
      });
      afterEach(() => {
        store.loginsPerAddress = saved.perAddress;
        store.maxLoginRequests = saved.total;
      });
      const pending = async () =>
        Number((await sql<{ n: string }>('SELECT count(*) AS n FROM login_requests'))[0].n);

      it('an address starts at most so many sign-ins in the login window: then 429 with Retry-After, free again once the window has passed', async () => {
        store.loginsPerAddress = 5;
        await s.admin.advanceClock(LOGIN_WINDOW + 1);
        const statuses: number[] = [];
        let refused: Answer | undefined;
        for (let i = 0; i < 8; i++) {
          const res = await new Browser().request(`${g.url}/auth/login`);
          statuses.push(res.status);
          if (res.status === 429) refused = res;
        }
        expect(statuses).toEqual([302, 302, 302, 302, 302, 429, 429, 429]);
        expect(JSON.parse(refused!.text).code).toBe('RATE_LIMITED');
        expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThan(0);
        await s.admin.advanceClock(LOGIN_WINDOW + 1);
        expect((await new Browser().request(`${g.url}/auth/login`)).status).toBe(302);
      });

      it('the table keeps at most MAX pending sign-ins (the oldest go first); the newest still completes', async () => {
        store.loginsPerAddress = 1000;
        store.maxLoginRequests = 10;
        const oldest = new Browser();
        const first = await oldest.request(`${g.url}/auth/login`);
        for (let i = 0; i < 25; i++) await new Browser().request(`${g.url}/auth/login`);
        expect(await pending()).toBeLessThanOrEqual(10);
        const { callback } = await signIn(new Browser(), 'alice');
        expect(callback.status).toBe(302);
        // The oldest pending sign-in made room: its callback finds nothing.
        const page = await oldest.request(first.location as string);
        const picked = await oldest.postForm(`${idp.issuer}/login`, {
          rid: ridFor(page.text, 'alice'),
          user: 'alice',
        });
        const late = await oldest.request(picked.location as string);
        expect(late.status).toBe(400);
        expect(JSON.parse(late.text).code).toBe('SIGN_IN_FAILED');
      });
    });
  });

  describe('the development provider', () => {
    const authorize = (params: Record<string, string>) =>
      new Browser().request(`${idp.issuer}/authorize?${new URLSearchParams(params).toString()}`);
    const good = () => ({
      response_type: 'code',
      client_id: CLIENT.clientId,
      redirect_uri: `${g.url}/auth/callback`,
      scope: 'openid profile',
      state: 'st',
      nonce: 'nn',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });

    it('requires PKCE S256 (plain or none refused), a known client and a loopback callback', async () => {
      expect((await authorize(good())).status).toBe(200);
      for (const change of [
        { code_challenge_method: 'plain' },
        { code_challenge: '' },
        { response_type: 'token' },
        { scope: 'profile' },
      ]) {
        const res = await authorize({ ...good(), ...change });
        expect(res.status).toBe(303);
        expect(new URL(res.location as string).searchParams.get('error')).toMatch(
          /invalid_request|unsupported_response_type|invalid_scope/,
        );
      }
      expect((await authorize({ ...good(), client_id: 'someone' })).status).toBe(400);
      expect(
        (await authorize({ ...good(), redirect_uri: 'https://evil.example/auth/callback' })).status,
      ).toBe(400);
    });

    it('gives a token only for the code’s verifier, client and redirect URI', async () => {
      const browser = new Browser();
      const login = await browser.request(`${g.url}/auth/login`);
      const page = await browser.request(login.location as string);
      const picked = await browser.postForm(`${idp.issuer}/login`, {
        rid: ridFor(page.text, 'alice'),
        user: 'alice',
      });
      const code = new URL(picked.location as string).searchParams.get('code') as string;
      const basic = `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`;
      const token = (form: Record<string, string>, authorization = basic) =>
        fetch(`${idp.issuer}/token`, {
          method: 'POST',
          headers: {
            authorization,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: new URLSearchParams(form).toString(),
        });
      const wrongClient = await token(
        { grant_type: 'authorization_code', code, redirect_uri: `${g.url}/auth/callback` },
        `Basic ${Buffer.from(`${CLIENT.clientId}:wrong`).toString('base64')}`,
      );
      expect(wrongClient.status).toBe(401);
      const wrongVerifier = await token({
        grant_type: 'authorization_code',
        code,
        redirect_uri: `${g.url}/auth/callback`,
        code_verifier: 'x'.repeat(43),
      });
      expect(wrongVerifier.status).toBe(400);
      expect(((await wrongVerifier.json()) as { error: string }).error).toBe('invalid_grant');
      // The code was spent by that attempt: the gateway's genuine callback now fails too.
      expect((await browser.request(picked.location as string)).status).toBe(400);
    });
  });

  describe('served over https (behind a TLS proxy)', () => {
    let https: StartedGateway;
    beforeAll(async () => {
      https = await startGateway(s, { ...oidcEnv(), TRUST_PROXY: '127.0.0.1' });
    });
    afterAll(async () => https?.close());

    it('refuses the development provider unless allowed (as production does)', async () => {
      const res = await new Browser({ 'x-forwarded-proto': 'https' }).request(
        `${https.url}/auth/login`,
      );
      expect(res.status).toBe(503);
      expect(JSON.parse(res.text).code).toBe('SIGN_IN_UNAVAILABLE');
    });

    it('names the cookies __Host- with Secure', async () => {
      https.config.signIn.oidc!.allowDevelopmentProvider = true;
      const browser = new Browser({ 'x-forwarded-proto': 'https' });
      const login = await browser.request(`${https.url}/auth/login`);
      expect(login.status).toBe(302);
      const redirect = new URL(login.location as string).searchParams.get('redirect_uri');
      expect(redirect).toBe(`${https.url.replace('http:', 'https:')}/auth/callback`);
      expect(login.setCookies[0]).toMatch(
        /^__Host-keygate_login=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure/,
      );
      const page = await browser.request(login.location as string);
      const picked = await browser.postForm(`${idp.issuer}/login`, {
        rid: ridFor(page.text, 'sam'),
        user: 'sam',
      });
      // The proxy's TLS ends here: the same callback, in plain http with X-Forwarded-Proto.
      const callback = await browser.request(
        (picked.location as string).replace('https:', 'http:'),
      );
      expect(callback.status).toBe(302);
      const cookie = callback.setCookies.find((c) => c.startsWith('__Host-keygate_session='));
      expect(cookie?.split('; ')).toEqual(
        expect.arrayContaining(['Path=/', 'HttpOnly', 'SameSite=Lax', 'Secure']),
      );
      const who = await browser.request(`${https.url}/auth/session`);
      expect(who.status).toBe(200);
      expect(JSON.parse(who.text)).toMatchObject({ subject: 'sam', roles: ['keygate:security'] });
      // The bare name is not read over https (no cookie tossing past the prefix).
      const tossed = new Browser({ 'x-forwarded-proto': 'https' });
      tossed.cookies.set('keygate_session', browser.cookies.get('__Host-keygate_session')!);
      expect((await tossed.request(`${https.url}/auth/session`)).status).toBe(401);
    });
  });

  describe('production', () => {
    it('refuses the development provider at start-up (its discovery says keygate_dev)', async () => {
      const config = loadGatewayConfig(gatewayEnv(s, { DATABASE_URL: g.db.url, ...oidcEnv() }));
      config.signIn.oidc!.allowDevelopmentProvider = true;
      await expect(refuseDevelopmentProvider(config)).rejects.toThrow(
        /OIDC_ISSUER .* is Keygate's development OpenID provider/,
      );
    });

    it('main.ts exits 1 naming OIDC_ISSUER when it is the development provider', async () => {
      const run = await runToExit(
        tsNodeArgs('apps/gateway/src/main.ts'),
        {
          ...gatewayEnv(s, { DATABASE_URL: g.db.url, ...oidcEnv() }),
          HOST: '127.0.0.1',
          PORT: '0',
        },
        'Keygate listening on',
      );
      expect(run).toMatchObject({ code: 1, stopped: false });
      expect(run.output).toContain(`OIDC_ISSUER ${idp.issuer}`);
      expect(run.output).toContain("Keygate's development OpenID provider");
      expect(run.output).not.toContain(CLIENT.clientSecret);
    }, 60_000);

    it('refuses a plain http issuer or redirect URL outside loopback, and a half-configured client', () => {
      const load = (env: NodeJS.ProcessEnv) => () =>
        loadGatewayConfig(gatewayEnv(s, { DATABASE_URL: g.db.url, ...env }));
      expect(load({ ...oidcEnv(), OIDC_ISSUER: 'http://idp.example.com' })).toThrow(
        /OIDC_ISSUER must be https/,
      );
      expect(
        load({ ...oidcEnv(), OIDC_REDIRECT_URL: 'http://keygate.example.com/auth/callback' }),
      ).toThrow(/OIDC_REDIRECT_URL must be https/);
      expect(load({ OIDC_ISSUER: 'https://idp.example.com' })).toThrow(
        /OIDC_ISSUER needs OIDC_CLIENT_ID/,
      );
      expect(
        load({ ...oidcEnv(), SESSION_IDLE_SECONDS: '7200', SESSION_ABSOLUTE_SECONDS: '3600' }),
      ).toThrow(/SESSION_IDLE_SECONDS must not be longer/);
    });
  });
});
