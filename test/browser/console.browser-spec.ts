import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { CI_ROLE_ID, JIRA_ROLE_ID } from '@app/upstream-sim';
import { DevIdentityProvider } from '../../apps/dev-idp/src/dev-idp';
import {
  scopeOnlyPolicy,
  startGateway,
  startSimulator,
  StartedGateway,
  StartedSimulator,
  writePolicy,
} from '../support/gateway';

/*
 * The console in a real browser: Debian's chromium (`apt-get install chromium`; .ci/run installs it
 * when missing) driven by playwright-core over CDP, one browser for the file. People sign in
 * through the development OpenID provider exactly as with `npm start`; nothing is mocked.
 * KEYGATE_SCREENSHOTS=1 also writes each page at 1280 and 390 px to docs/screenshots/.
 */

jest.setTimeout(60_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const AXE = require.resolve('axe-core/axe.min.js');
const SHOTS =
  process.env.KEYGATE_SCREENSHOTS === '1' ? join(__dirname, '../../docs/screenshots') : undefined;
const CLIENT = {
  clientId: 'keygate-console-test',
  clientSecret: 'console-test-client-secret-0123456789',
};

/** Rules the forms show before submitting: a clamp, a name pattern, secret rules, a quota. */
const RULES = `rules:
  qwiet:
    max_lifetime: { max_seconds: 86400, on_exceed: clamp }
    allowed_roles: { role_ids: [${CI_ROLE_ID}] }
    allowed_token_types: { token_types: [access] }
  octane:
    max_expiration: { max_days: 30 }
    allowed_workspace_roles: { workspace_role_ids: ['1027', '1034'] }
    secret_strength: { min_length: 16, min_classes: 4, forbid_name: true, forbid_common: true }
    name_pattern: { pattern: '^[A-Za-z][A-Za-z0-9_-]{2,39}$' }
  quota:
    team_per_hour: { max: 50 }`;

let s: StartedSimulator;
let g: StartedGateway;
let idp: DevIdentityProvider;
let browser: Browser;

beforeAll(async () => {
  execFileSync(process.execPath, [join(__dirname, '../../apps/console/ensure-built.mjs')], {
    stdio: 'inherit',
  });
  idp = await DevIdentityProvider.start({ clients: [CLIENT] });
  s = await startSimulator();
  g = await startGateway(s, {
    POLICY_FILE: writePolicy(scopeOnlyPolicy(s, RULES)),
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: CLIENT.clientId,
    OIDC_CLIENT_SECRET: CLIENT.clientSecret,
  });
  // What `npm start` does for the provider it started itself (production refuses it).
  g.config.signIn.oidc!.allowDevelopmentProvider = true;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await g?.close();
  await s?.sim.close();
  await idp?.close();
});

/** A fresh browser context signed in through the provider as `who` (its button's name). */
async function signIn(
  who: string,
  options: { width?: number; axe?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: 900 },
    // Only where axe-core is injected: the console's CSP (script-src 'self') rightly refuses it.
    bypassCSP: options.axe ?? false,
  });
  const page = await context.newPage();
  await page.goto(`${g.url}/console/`);
  await page.getByRole('link', { name: /sign in/i }).click();
  await page.getByRole('button', { name: new RegExp(`^Sign in as ${who},`) }).click();
  await page.waitForURL(`${g.url}/console/**`);
  await page.getByText('Signed in as', { exact: false }).waitFor();
  return { context, page };
}

async function go(page: Page, path: string, heading: string): Promise<void> {
  await page.goto(`${g.url}/console${path}`);
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  // A locator, not waitForFunction: that evaluates text in the page, which the CSP (no
  // 'unsafe-eval') rightly refuses.
  await page.locator('[aria-busy="true"]').first().waitFor({ state: 'detached' });
}

/** axe-core's serious and critical violations on the page as it is now. */
async function axeViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  // Expressions as text: they run in the page (the test itself is compiled without the DOM's types).
  const found = await page.evaluate<{
    violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
  }>('axe.run(document)');
  return found.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

const issued: {
  qwiet?: { id: string; label: string; value: string };
  octane?: { id: string; name: string };
} = {};

describe('a member (alice, payments)', () => {
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => ({ context, page } = await signIn('Alice')));
  afterAll(async () => context?.close());

  it('gets a session cookie: HttpOnly, SameSite=Lax, host-only, Path=/ (no Secure over plain http)', async () => {
    const cookies = await context.cookies(g.url);
    const session = cookies.find((c) => c.name === 'keygate_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', secure: false });
    expect(session?.domain).toBe('127.0.0.1');
    // Nothing else the page could read: no token in storage, no readable cookie.
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await page.evaluate('localStorage.length + sessionStorage.length')).toBe(0);
  });

  it('issues a Qwiet token, sees its secret once with the team’s limits shown first', async () => {
    await go(page, '/issue', 'Issue');
    const qwiet = page.getByRole('region', { name: 'Qwiet API token' });
    await qwiet.getByText(/qwiet\.max_lifetime: at most 1 day/).waitFor();
    await qwiet.getByLabel('Label').fill('console-ci');
    await qwiet.getByLabel('Lifetime in hours').fill('2');
    await qwiet.getByRole('button', { name: 'Issue Qwiet token' }).click();
    const secret = qwiet.getByLabel('Secret', { exact: true });
    await secret.waitFor();
    await qwiet.getByText('Shown once.').waitFor();
    const value = await secret.inputValue();
    expect(value.length).toBeGreaterThan(20);
    const state = await s.admin.state();
    const token = state.qwiet.tokens.find((t) => t.label === 'console-ci');
    expect(token).toBeDefined();
    issued.qwiet = { id: token!.id, label: 'console-ci', value };

    await qwiet.getByRole('button', { name: 'Copy' }).click();
    await qwiet
      .getByRole('status')
      .filter({ hasText: /Copied|Selected/ })
      .waitFor();
    await qwiet.getByRole('button', { name: /I have stored it/ }).click();
    await qwiet.getByLabel('Label').waitFor();
    expect(await page.content()).not.toContain(value);
  });

  it('is told rule by rule why an Octane key is refused, then issues one and sees its secret once', async () => {
    const octane = page.getByRole('region', { name: 'Octane API access key' });
    await octane.getByText(/octane\.name_pattern/).waitFor();
    await octane.getByLabel('Key name').fill('9-bad name');
    await octane.getByLabel(/^Client secret/).fill('password');
    await octane.getByRole('button', { name: 'Issue Octane key' }).click();
    const refusal = octane.getByRole('alert');
    await refusal.getByText('The token policy refused this request.').waitFor();
    const rules = await refusal.getByRole('list', { name: 'Rules broken' }).innerText();
    expect(rules).toContain('octane.name_pattern');
    expect(rules).toContain('octane.secret_strength');
    expect(await refusal.innerText()).toContain('POLICY_VIOLATION');

    await octane.getByLabel('Key name').fill('console_key');
    await octane.getByLabel(/^Client secret/).fill('');
    await octane.getByRole('button', { name: 'Issue Octane key' }).click();
    const secret = octane.getByLabel('Secret', { exact: true });
    await secret.waitFor();
    await octane.getByText('Shown once.').waitFor();
    const value = await secret.inputValue();
    expect(value.length).toBeGreaterThanOrEqual(16);
    const key = (await s.admin.state()).octane.api_accesses.find((k) => k.name === 'console_key');
    expect(key).toBeDefined();
    issued.octane = { id: key!.id, name: 'console_key' };
    await octane.getByRole('button', { name: /I have stored it/ }).click();
    expect(await page.content()).not.toContain(value);
  });

  it('sees both in My credentials and revokes each after confirming', async () => {
    await go(page, '/', 'My credentials');
    for (const name of ['console-ci', 'console_key']) {
      await page.getByRole('button', { name: `Revoke ${name}` }).click();
      await page.getByRole('button', { name: `Confirm revoke ${name}` }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Revoked` })
        .filter({ hasText: name })
        .waitFor();
    }
    const state = await s.admin.state();
    expect(state.qwiet.tokens.find((t) => t.id === issued.qwiet!.id)?.revoked_at).not.toBeNull();
    expect(state.octane.api_accesses.find((k) => k.id === issued.octane!.id)?.is_valid).toBe(false);
  });

  it('shows the latest reload of My credentials when an earlier one comes back after it', async () => {
    // Two tokens of the team, issued through the API.
    const auth = { Authorization: `Bearer ${await g.token({ sub: 'alice' })}` };
    const [a, b] = await Promise.all(
      ['reload-a', 'reload-b'].map(async (label) => {
        const res = await g
          .http()
          .post(`/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/tokens`)
          .set(auth)
          .send({ label, role_id: CI_ROLE_ID, token_type: 'access' })
          .expect(200);
        return { label, id: res.body.response.id as string };
      }),
    );
    await go(page, '/', 'My credentials');
    // The reload after the first revocation (b still active in its answer) is held until the
    // reload after the second one is on the page.
    const inventory = /\/v1\/credentials\?limit=500$/;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let seen = 0;
    await page.route(inventory, async (route) => {
      const response = await route.fetch();
      if (++seen === 1) await held;
      await route.fulfill({ response });
    });
    try {
      for (const { label } of [a, b]) {
        await page.getByRole('button', { name: `Revoke ${label}` }).click();
        await page.getByRole('button', { name: `Confirm revoke ${label}` }).click();
        await page
          .getByRole('status')
          .filter({ hasText: `Revoked token ${label}` })
          .waitFor();
      }
      const row = page.locator(`[data-credential="${b.id}"]`);
      await row.waitFor({ state: 'detached' });
      const late = page.waitForResponse(inventory);
      release();
      await (await late).finished();
      // One more turn of the page's event loop: the late answer has been handled by then.
      await page.evaluate('new Promise((resolve) => setTimeout(resolve, 0))');
      expect(await row.count()).toBe(0);
    } finally {
      release();
      await page.unroute(inventory);
    }
  });

  it('cannot open the auditor’s page nor call its API', async () => {
    expect(await page.getByRole('link', { name: 'Audit' }).count()).toBe(0);
    await go(page, '/audit', 'Audit');
    await page.getByText('This page is for keygate:auditor or keygate:admin only').waitFor();
    for (const [method, path] of [
      ['GET', '/v1/audit'],
      ['GET', '/v1/audit/verify'],
    ] as const) {
      const res = await page.request.fetch(`${g.url}${path}`, { method });
      expect(res.status()).toBe(403);
    }
  });

  it('a state-changing request without the CSRF token is refused; with it, it goes through', async () => {
    const body = {
      action: 'qwiet.token.issue',
      org_id: s.options.qwietOrgs[0].id,
      body: {
        label: 'csrf-check',
        role_id: CI_ROLE_ID,
        token_type: 'access',
        valid_for_seconds: 60,
      },
    };
    const without = await page.request.post(`${g.url}/v1/policy/explain`, { data: body });
    expect(without.status()).toBe(403);
    expect(JSON.stringify(await without.json())).toContain('CSRF_REQUIRED');
    const session = await (await page.request.get(`${g.url}/auth/session`)).json();
    const withToken = await page.request.post(`${g.url}/v1/policy/explain`, {
      data: body,
      headers: { 'x-csrf-token': session.csrf_token },
    });
    expect(withToken.status()).toBe(200);
  });

  it('asks the policy what if: a refusal rule by rule, nothing sent to the vendor', async () => {
    await go(page, '/policy', 'Policy');
    await page
      .getByText(/qwiet\.allowed_roles/)
      .first()
      .waitFor();
    await page
      .getByLabel(/^Request body/)
      .fill(JSON.stringify({ label: 'what-if', role_id: JIRA_ROLE_ID, token_type: 'integration' }));
    const before = (await s.admin.state()).qwiet.tokens.length;
    await page.getByRole('button', { name: 'Explain' }).click();
    const result = page.getByRole('status').filter({ hasText: 'Refused' });
    await result.waitFor();
    const text = await result.innerText();
    expect(text).toContain('qwiet.allowed_roles');
    expect(text).toContain('qwiet.allowed_token_types');
    expect((await s.admin.state()).qwiet.tokens.length).toBe(before);
  });

  it('is usable by keyboard: the skip link, then the navigation moves the focus to the page', async () => {
    await go(page, '/', 'My credentials');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement.id')).toBe('main');
    await page.getByRole('link', { name: 'Policy' }).focus();
    // Where the focus is at the moment the new heading is in the page (a mutation observer runs
    // right after the commit that changed it), not whenever the test gets to look.
    await page.evaluate(`void (window.focusWhenShown = new Promise((resolve) => {
      const seen = new MutationObserver(() => {
        if (document.querySelector('main h1')?.textContent !== 'Policy') return;
        seen.disconnect();
        resolve(document.activeElement?.tagName ?? '');
      });
      seen.observe(document.body, { subtree: true, childList: true, characterData: true });
    }))`);
    await page.keyboard.press('Enter');
    expect(await page.evaluate('window.focusWhenShown')).toBe('H1');
    await page.getByRole('heading', { level: 1, name: 'Policy' }).waitFor();
    expect(await page.evaluate('document.activeElement.tagName')).toBe('H1');
    expect(page.url()).toBe(`${g.url}/console/policy`);
  });

  it('logout ends the session on the server: the old cookie no longer works', async () => {
    const old = (await context.cookies(g.url)).find((c) => c.name === 'keygate_session')!;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: /sign in/i }).waitFor();
    const res = await fetch(`${g.url}/auth/session`, {
      headers: { cookie: `${old.name}=${old.value}` },
    });
    expect(res.status).toBe(401);
  });
});

describe('an auditor (audrey)', () => {
  let context: BrowserContext;
  let page: Page;
  beforeAll(async () => ({ context, page } = await signIn('Audrey')));
  afterAll(async () => context?.close());

  it('finds the member’s records by credential id and reads one', async () => {
    await go(page, '/audit', 'Audit');
    const searches: [string, string, string][] = [
      [issued.qwiet!.id, 'qwiet.token', 'octane.api_access'],
      [issued.octane!.id, 'octane.api_access', 'qwiet.token'],
    ];
    for (const [id, events, others] of searches) {
      await page.getByLabel('credential id').fill(id);
      await page.getByRole('button', { name: 'Search' }).click();
      const table = page.getByRole('region', { name: 'Audit records, newest first' });
      // The table before the answer (the first load's, unfiltered, or the search before) holds
      // the other vendor's records: gone once this search's answer is shown.
      await table.getByText(others).first().waitFor({ state: 'detached' });
      await table
        .getByRole('cell', { name: `${events}.revoke` })
        .first()
        .waitFor();
      const text = await table.innerText();
      expect(text).toMatch(new RegExp(`${events.replace('.', '\\.')}\\.(issue|create)`));
      expect(text).not.toContain(others);
      expect(text).toMatch(/alice \(payments\)/);
    }
    await page
      .getByRole('button', { name: /^Details of record/ })
      .first()
      .click();
    const details = await page.getByRole('region', { name: /^Record \d+/ }).innerText();
    expect(details).toContain(issued.octane!.id);
  });

  it('shows the latest search’s answer when an earlier one comes back after it', async () => {
    // The page's first load (no filter) is answered only once the search's answer is on the page.
    const unfiltered = /\/v1\/audit\?limit=50$/;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(unfiltered, async (route) => {
      const response = await route.fetch();
      await held;
      await route.fulfill({ response });
    });
    try {
      await page.goto(`${g.url}/console/audit`);
      await page.getByLabel('credential id').fill(issued.octane!.id);
      await page.getByRole('button', { name: 'Search' }).click();
      const table = page.getByRole('region', { name: 'Audit records, newest first' });
      await table.getByRole('cell', { name: 'octane.api_access.revoke' }).first().waitFor();
      const late = page.waitForResponse(unfiltered);
      release();
      await (await late).finished();
      // One more turn of the page's event loop: the late answer has been handled by then.
      await page.evaluate('new Promise((resolve) => setTimeout(resolve, 0))');
      expect(await table.innerText()).not.toContain('qwiet.token');
    } finally {
      release();
      await page.unroute(unfiltered);
    }
  });

  it('verifies the chain', async () => {
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByRole('status').filter({ hasText: 'The chain verifies.' }).waitFor();
    expect(await page.getByTestId('verify-result').innerText()).toMatch(/^Verified/);
  });

  it('finds a leaked secret’s records by its fingerprint, and nothing keeps the secret', async () => {
    await page.getByLabel(/^Secret or token value/).fill(issued.qwiet!.value);
    await page.getByRole('button', { name: 'Look up' }).click();
    const found = page.getByRole('region', { name: 'Records of the leaked secret' });
    await found.waitFor();
    expect(await found.innerText()).toContain('qwiet.token.issue');
    await page.getByText(/^Fingerprint hmac-sha256:[0-9a-f]{64}/).waitFor();
    expect(await page.getByLabel(/^Secret or token value/).inputValue()).toBe('');
    expect(await page.content()).not.toContain(issued.qwiet!.value);
  });

  it('exports the filtered records as JSON lines', async () => {
    await page.getByLabel('credential id').fill(issued.qwiet!.id);
    await page.getByRole('button', { name: 'Search' }).click();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: /^Export/ }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('keygate-audit.jsonl');
    const text = readFileSync((await download.path())!, 'utf8');
    const records = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { seq: number; target?: { credential_id?: string } });
    expect(records.length).toBeGreaterThanOrEqual(4);
    expect(records.every((r) => r.target?.credential_id === issued.qwiet!.id)).toBe(true);
    expect(records.map((r) => r.seq)).toEqual([...records.map((r) => r.seq)].sort((a, b) => b - a));
  });
});

describe('every page, at 1280 and at 390 px', () => {
  const PAGES = [
    ['/', 'My credentials', 'credentials'],
    ['/issue', 'Issue', 'issue'],
    ['/audit', 'Audit', 'audit'],
    ['/policy', 'Policy', 'policy'],
    ['/operations', 'Operations', 'operations'],
  ] as const;

  // Something to show: carol (payments) holds a token expiring within the week and an Octane key
  // (issued with a bearer token), and one reconciliation pass has run.
  beforeAll(async () => {
    const carol = await g.token({ sub: 'carol', team: 'payments' });
    const admin = await g.token({ sub: 'ada', team: 'platform', roles: ['keygate:admin'] });
    await g
      .http()
      .post(`/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/tokens`)
      .set('authorization', `Bearer ${carol}`)
      .send({
        label: 'nightly-scan',
        role_id: CI_ROLE_ID,
        token_type: 'access',
        valid_for_seconds: 7200,
      })
      .expect(200);
    await g
      .http()
      .post(`/octane/api/shared_spaces/${s.options.octaneSpaces[0].id}/api_accesses`)
      .set('authorization', `Bearer ${carol}`)
      .send({
        data: [
          {
            name: 'release_bot',
            expiration: new Date(Date.now() + 20 * 86400_000).toISOString().replace(/\.\d+Z$/, 'Z'),
            workspace_roles: { data: [{ type: 'workspace_role', id: '1027' }] },
          },
        ],
      })
      .expect(201);
    await g.http().post('/v1/reconcile').set('authorization', `Bearer ${admin}`).expect(200);
  });

  it.each([1280, 390])('has no serious or critical axe violation at %i px', async (width) => {
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
    const signedOut = await browser.newContext({
      viewport: { width, height: 900 },
      bypassCSP: true,
    });
    const out = await signedOut.newPage();
    await out.goto(`${g.url}/console/`);
    await out.getByRole('link', { name: /sign in/i }).waitFor();
    const problems: string[] = (await axeViolations(out)).map((v) => `sign-in: ${v}`);
    if (SHOTS) await out.screenshot({ path: join(SHOTS, `sign-in-${width}.png`), fullPage: true });
    await signedOut.close();

    // An admin opens every page (Operations is for admins; Audit for auditors and admins).
    const { context, page } = await signIn('Ada', { width, axe: true });
    try {
      for (const [path, heading, name] of PAGES) {
        await go(page, path, heading);
        if (path === '/operations') {
          await page.getByLabel('Subject', { exact: true }).fill('carol');
          await page.getByRole('button', { name: /^Dry run/ }).click();
          await page.getByRole('region', { name: 'Would be revoked' }).waitFor();
        }
        if (path === '/audit') {
          await page.getByRole('button', { name: 'Verify the chain' }).click();
          await page.getByTestId('verify-result').waitFor();
        }
        problems.push(...(await axeViolations(page)).map((v) => `${name}: ${v}`));
        if (SHOTS)
          await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
        // Readable at this width: nothing wider than the viewport but the scrolling tables.
        const overflow = await page.evaluate<number>(
          'document.documentElement.scrollWidth - window.innerWidth',
        );
        expect(overflow).toBeLessThanOrEqual(0);
      }
    } finally {
      await context.close();
    }
    expect(problems).toEqual([]);
  });
});
