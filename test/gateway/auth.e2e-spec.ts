import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import {
  StartedGateway,
  StartedSimulator,
  startGateway,
  TEST_JWT_SECRET,
  useStack,
} from '../support/gateway';

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
const hs256 = (
  claims: Record<string, unknown>,
  secret = TEST_JWT_SECRET,
  header = { alg: 'HS256' },
) => new SignJWT(claims).setProtectedHeader(header).sign(new TextEncoder().encode(secret));
const now = () => Math.floor(Date.now() / 1000);

describe('gateway: caller identity', () => {
  let s: StartedSimulator;
  let g: StartedGateway;
  let rolesPath: string;
  const vendorCalls = async () =>
    Object.keys((await s.admin.state()).requests).filter((op) => !op.startsWith('sim.'));

  const stack = useStack();
  beforeAll(async () => {
    ({ s, g } = stack);
    rolesPath = `/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/roles`;
  });
  beforeEach(() => s.admin.reset());

  const cases: [string, () => Promise<string | undefined>, RegExp][] = [
    ['no Authorization header', async () => undefined, /missing/],
    ['a non-bearer scheme', async () => 'Basic YWxpY2U6c2VjcmV0', /Bearer/],
    ['a malformed token', async () => 'Bearer not-a-jwt', /malformed/],
    [
      'an expired token',
      async () => `Bearer ${await hs256({ sub: 'a', team: 'payments', exp: now() - 60 })}`,
      /expired/,
    ],
    [
      'a token without exp',
      async () => `Bearer ${await hs256({ sub: 'a', team: 'payments' })}`,
      /exp/,
    ],
    [
      'a token signed with another secret',
      async () =>
        `Bearer ${await hs256({ sub: 'a', team: 'payments', exp: now() + 60 }, 'another-secret-another-secret-another-secret')}`,
      /signature/,
    ],
    [
      'alg none',
      async () =>
        `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'a', team: 'payments', exp: now() + 60 })}.`,
      /algorithm|malformed/,
    ],
    [
      'HS512 instead of HS256',
      async () =>
        `Bearer ${await hs256({ sub: 'a', team: 'payments', exp: now() + 60 }, TEST_JWT_SECRET, { alg: 'HS512' })}`,
      /algorithm/,
    ],
    [
      'a token not yet valid (nbf in the future)',
      async () =>
        `Bearer ${await hs256({ sub: 'a', team: 'payments', exp: now() + 600, nbf: now() + 300 })}`,
      /nbf/,
    ],
    ['no team claim', async () => `Bearer ${await hs256({ sub: 'a', exp: now() + 60 })}`, /team/],
    [
      'no subject',
      async () => `Bearer ${await hs256({ team: 'payments', exp: now() + 60 })}`,
      /sub/,
    ],
    ['an oversized token', async () => `Bearer ${'a'.repeat(9000)}`, /too long/],
  ];

  it.each(cases)('answers 401 for %s, and forwards nothing', async (_case, header, reason) => {
    const h = await header();
    const res = await (
      h ? g.http().get(rolesPath).set('Authorization', h) : g.http().get(rolesPath)
    ).expect(401);
    expect(res.body).toMatchObject({
      ok: false,
      code: 'UNAUTHENTICATED',
      message: expect.stringMatching(reason),
    });
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(await vendorCalls()).toEqual([]);
  });

  it('accepts a valid HS256 token', async () => {
    await g
      .http()
      .get(rolesPath)
      .set('Authorization', `Bearer ${await g.token()}`)
      .expect(200);
  });

  it('lets a team without a scope section use nothing', async () => {
    const res = await g
      .http()
      .get(rolesPath)
      .set('Authorization', `Bearer ${await g.token({ team: 'marketing' })}`)
      .expect(403);
    expect(res.body.code).toBe('POLICY_VIOLATION');
  });

  describe('JWKS mode (production): issuer and audience enforced', () => {
    let jwks: Server;
    let jg: StartedGateway;
    let sign: (claims: Record<string, unknown>) => Promise<string>;
    let publicPem: string;

    beforeAll(async () => {
      const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
      publicPem = await exportSPKI(publicKey);
      const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
      jwks = createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
      jg = await startGateway(s, {
        AUTH_JWT_SECRET: '',
        AUTH_JWKS_URL: url,
        AUTH_ISSUER: 'https://id.example.com',
        AUTH_AUDIENCE: 'keygate',
      });
      sign = (claims) =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(privateKey);
    });
    afterAll(async () => {
      await jg.close();
      jwks.closeAllConnections();
      await new Promise((resolve) => jwks.close(resolve));
    });

    it('accepts a token from the issuer for the audience', async () => {
      const token = await sign({
        sub: 'alice',
        team: 'payments',
        iss: 'https://id.example.com',
        aud: 'keygate',
      });
      await jg.http().get(rolesPath).set('Authorization', `Bearer ${token}`).expect(200);
    });

    it.each([
      ['a wrong issuer', { iss: 'https://evil.example.com', aud: 'keygate' }],
      ['a wrong audience', { iss: 'https://id.example.com', aud: 'other' }],
    ])('refuses %s', async (_case, claims) => {
      const token = await sign({ sub: 'alice', team: 'payments', ...claims });
      await jg.http().get(rolesPath).set('Authorization', `Bearer ${token}`).expect(401);
    });

    it('refuses an HS256 token (no shared secret in JWKS mode)', async () => {
      const token = await hs256({
        sub: 'a',
        team: 'payments',
        iss: 'https://id.example.com',
        aud: 'keygate',
        exp: now() + 60,
      });
      await jg.http().get(rolesPath).set('Authorization', `Bearer ${token}`).expect(401);
    });

    it('refuses HS/RS confusion: an HS256 token keyed with the public key itself', async () => {
      const claims = {
        sub: 'a',
        team: 'payments',
        iss: 'https://id.example.com',
        aud: 'keygate',
        exp: now() + 60,
      };
      const token = await hs256(claims, publicPem, { alg: 'HS256', kid: 'k1' } as { alg: string });
      const res = await jg
        .http()
        .get(rolesPath)
        .set('Authorization', `Bearer ${token}`)
        .expect(401);
      expect(res.body.message).toMatch(/algorithm/);
    });
  });
});
