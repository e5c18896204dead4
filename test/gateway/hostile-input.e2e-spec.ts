import fc from 'fast-check';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { StartedGateway, StartedSimulator, TEST_AUDIT_KEY, useStack } from '../support/gateway';
import { verifyStored } from '../support/db';

const MUTATIONS = [
  'qwiet.tokens.create',
  'qwiet.tokens.delete',
  'octane.api_accesses.create',
  'octane.api_accesses.update',
];
const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'label',
  'role_id',
  'valid_for_seconds',
  'token_type',
  'data',
  'name',
  'client_secret',
  'is_valid',
  'expiration',
];

/** Any JSON value, with the numbers, strings and shapes that break naive code. */
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(
      null,
      true,
      false,
      0,
      -1,
      1.5,
      1e308,
      -1e308,
      2 ** 53 + 1,
      '',
      ' ',
      '\u0000',
      '\u202e',
      '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
      'x'.repeat(5000),
    ),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.string({ unit: 'binary', maxLength: 50 }),
    fc.array(tie('any'), { maxLength: 4 }),
    fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ maxLength: 10 })),
          tie('any'),
        ),
        { maxLength: 5 },
      )
      .map((entries) => ({ entries })),
  ),
})).any;

/** JSON text of a value; objects are written entry by entry, so duplicate and `__proto__` keys survive. */
function toJson(v: unknown): string {
  if (
    v !== null &&
    typeof v === 'object' &&
    'entries' in (v as object) &&
    Array.isArray((v as { entries: unknown }).entries)
  ) {
    return `{${(v as { entries: [string, unknown][] }).entries.map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`).join(',')}}`;
  }
  if (Array.isArray(v)) return `[${v.map(toJson).join(',')}]`;
  return JSON.stringify(v) ?? 'null';
}

/** The value as the gateway would parse it (last duplicate wins). */
function parsed(v: unknown): unknown {
  if (
    v !== null &&
    typeof v === 'object' &&
    'entries' in (v as object) &&
    Array.isArray((v as { entries: unknown }).entries)
  ) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of (v as { entries: [string, unknown][] }).entries) out[k] = parsed(x);
    return out;
  }
  return Array.isArray(v) ? v.map(parsed) : v;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Bodies the random generator could, rarely, make valid: they are not hostile, so they are skipped. */
function plausiblyValid(route: string, body: unknown): boolean {
  const b = parsed(body);
  if (!isObject(b)) return false;
  if (route === 'Octane revoke/regenerate') return typeof b.is_valid === 'boolean';
  if (route === 'Octane create')
    return (
      Array.isArray(b.data) &&
      b.data.length === 1 &&
      isObject(b.data[0]) &&
      typeof b.data[0].name === 'string'
    );
  return (
    typeof b.label === 'string' &&
    typeof b.role_id === 'string' &&
    /^[0-9a-f-]{36}$/i.test(b.role_id)
  );
}

const isErrorEnvelope = (vendor: 'qwiet' | 'octane', body: Record<string, unknown>) =>
  vendor === 'qwiet'
    ? body.ok === false && typeof body.code === 'string'
    : typeof body.error_code === 'string';

describe('gateway: hostile input', () => {
  let s: StartedSimulator;
  let g: StartedGateway;
  let bearer: { Authorization: string };
  let org: string;
  const mutationsSeen = async () => {
    const requests = (await s.admin.state()).requests;
    return MUTATIONS.reduce((n, op) => n + (requests[op] ?? 0), 0);
  };

  const stack = useStack({ RATE_LIMIT_PER_MINUTE: '100000' });
  beforeAll(async () => {
    ({ s, g } = stack);
    bearer = { Authorization: `Bearer ${await g.token()}` };
    org = s.options.qwietOrgs[0].id;
  });

  const routes: {
    name: string;
    vendor: 'qwiet' | 'octane';
    method: 'post' | 'put';
    path: () => string;
  }[] = [
    {
      name: 'Qwiet create',
      vendor: 'qwiet',
      method: 'post',
      path: () => `/qwiet/api/v4/orgs/${org}/tokens`,
    },
    {
      name: 'Octane create',
      vendor: 'octane',
      method: 'post',
      path: () => '/octane/api/shared_spaces/1001/api_accesses',
    },
    {
      name: 'Octane revoke/regenerate',
      vendor: 'octane',
      method: 'put',
      path: () => '/octane/api/shared_spaces/1001/api_accesses/1001',
    },
  ];

  it.each(routes)(
    '$name: any JSON body that is not a valid request gets a 4xx in the vendor envelope, and the vendor hears nothing',
    async (route) => {
      await fc.assert(
        fc.asyncProperty(value, async (body) => {
          fc.pre(!plausiblyValid(route.name, body));
          const http = g.http();
          const res = await http[route.method](route.path())
            .set(bearer)
            .set('content-type', 'application/json')
            .send(toJson(body));
          const hostile =
            res.status >= 400 && res.status < 500 && isErrorEnvelope(route.vendor, res.body);
          return hostile && !JSON.stringify(res.body).includes('    at ');
        }),
        { numRuns: 150 },
      );
      expect(await mutationsSeen()).toBe(0);
    },
  );

  it('paths: any org, token, shared space or key id gets a 4xx, never a traversal, never a vendor change', async () => {
    const segment = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom(
        '..',
        '.',
        '%2e%2e',
        '..%2F..%2Froles',
        '%00',
        'a/b',
        '1001;drop',
        ' ',
        '\u202e',
      ),
    );
    await fc.assert(
      fc.asyncProperty(segment, segment, async (a, b) => {
        const enc = (x: string) => (x.includes('%') ? x : encodeURIComponent(x)) || '%20';
        const answers = await Promise.all([
          g
            .http()
            .delete(`/qwiet/api/v4/orgs/${enc(a)}/tokens/${enc(b)}`)
            .set(bearer),
          g
            .http()
            .put(`/octane/api/shared_spaces/${enc(a)}/api_accesses/${enc(b)}`)
            .set(bearer)
            .send({ is_valid: false }),
          g
            .http()
            .get(`/octane/api/shared_spaces/${enc(a)}/api_accesses/${enc(b)}`)
            .set(bearer),
        ]);
        return answers.every((r) => r.status >= 400 && r.status < 500);
      }),
      { numRuns: 100 },
    );
    expect(await mutationsSeen()).toBe(0);
  });

  it('Octane list parameters: anything sent is refused or reaches Octane as its own parameter; never a 5xx', async () => {
    const param = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.constantFrom(
        '"id=1"&limit=1',
        '1;2',
        '-1',
        '1e9',
        'role{name}',
        '"name EQ \'\\"',
        '"(((((',
        '{id=1}',
        'valueOf',
        '__proto__',
        'constructor',
        'role{constructor}',
        '"toString=1"',
        '0x10',
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('fields', 'query', 'limit', 'offset', 'order_by'),
        param,
        async (name, v) => {
          const res = await g
            .http()
            .get('/octane/api/shared_spaces/1001/workspace_roles')
            .query({ [name]: v })
            .set(bearer);
          return (
            res.status === 200 ||
            (res.status >= 400 && res.status < 500 && typeof res.body.error_code === 'string')
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it.each([
    ['text/plain', 'label=x'],
    ['application/x-www-form-urlencoded', 'label=x&role_id=y'],
    ['multipart/form-data; boundary=x', '--x--'],
    ['application/jsonx', '{}'],
  ])('refuses a %s body with 415', async (type, body) => {
    const res = await g
      .http()
      .post(`/qwiet/api/v4/orgs/${org}/tokens`)
      .set(bearer)
      .set('content-type', type)
      .send(body)
      .expect(415);
    expect(res.body).toMatchObject({ ok: false, code: 'UNSUPPORTED_MEDIA_TYPE' });
  });

  it.each(['application/json; charset=utf-8', 'Application/JSON', 'application/merge-patch+json'])(
    'reads a %s body as JSON',
    async (type) => {
      const res = await g
        .http()
        .post(`/qwiet/api/v4/orgs/${org}/tokens`)
        .set(bearer)
        .set('content-type', type)
        .send(JSON.stringify({ label: 'typed', role_id: CI_ROLE_ID, valid_for_seconds: 60 }))
        .expect(200);
      expect(res.body.ok).toBe(true);
    },
  );

  it('refuses prototype-pollution keys before validation, and pollutes nothing', async () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const body = `{"label":"x","role_id":"${CI_ROLE_ID}","${key}":{"isAdmin":true}}`;
      const res = await g
        .http()
        .post(`/qwiet/api/v4/orgs/${org}/tokens`)
        .set(bearer)
        .set('content-type', 'application/json')
        .send(body)
        .expect(400);
      expect(res.body).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: `the key "${key}" is not allowed in a request body`,
      });
    }
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('refuses a key spelled with JSON escapes ("\\u005f_proto__") as the key it is, and pollutes nothing', async () => {
    const before = await mutationsSeen();
    for (const [escaped, key] of [
      ['\\u005f_proto__', '__proto__'],
      ['\\u0063onstructor', 'constructor'],
      ['prot\\u006ftype', 'prototype'],
    ]) {
      const body = `{"label":"x","role_id":"${CI_ROLE_ID}","${escaped}":{"isAdmin":true}}`;
      const res = await g
        .http()
        .post(`/qwiet/api/v4/orgs/${org}/tokens`)
        .set(bearer)
        .set('content-type', 'application/json')
        .send(body)
        .expect(400);
      expect(res.body).toMatchObject({
        code: 'VALIDATION_FAILED',
        message: `the key "${key}" is not allowed in a request body`,
      });
    }
    // Nested deeper, on an Octane route too.
    const nested = await g
      .http()
      .post('/octane/api/shared_spaces/1001/api_accesses')
      .set(bearer)
      .set('content-type', 'application/json')
      .send(
        '{"data":[{"name":"n","workspace_roles":{"data":[{"\\u005f_proto__":{"isAdmin":true}}]}}]}',
      )
      .expect(400);
    expect(nested.body).toMatchObject({
      error_code: 'VALIDATION_FAILED',
      description: 'the key "__proto__" is not allowed in a request body',
    });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(await mutationsSeen()).toBe(before);
  });

  it.each([
    ['arrays', (n: number) => `{"label":${'['.repeat(n)}${']'.repeat(n)}}`],
    ['objects', (n: number) => `{"label":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`],
  ])(
    'refuses a body of %s nested deeper than 32 levels with 400, before validation',
    async (_kind, body) => {
      const before = await mutationsSeen();
      for (const route of routes) {
        const http = g.http();
        const res = await http[route.method](route.path())
          .set(bearer)
          .set('content-type', 'application/json')
          .send(body(5000))
          .expect(400);
        expect(isErrorEnvelope(route.vendor, res.body)).toBe(true);
        expect(JSON.stringify(res.body)).toContain('nested deeper than 32 levels');
      }
      // 32 levels in all is fine as far as nesting goes (the body is still not a valid request).
      const shallow = await g
        .http()
        .post(`/qwiet/api/v4/orgs/${org}/tokens`)
        .set(bearer)
        .set('content-type', 'application/json')
        .send(body(30))
        .expect(400);
      expect(JSON.stringify(shallow.body)).not.toContain('nested deeper');
      expect(await mutationsSeen()).toBe(before);
    },
  );

  it.each(['2026-W10', '2026-W10-3', '2026-060'])(
    'refuses an audit time the query cannot use (%s) with 400 naming the parameter',
    async (from) => {
      const auditor = { Authorization: `Bearer ${await g.token({ roles: ['keygate:auditor'] })}` };
      const res = await g.http().get('/v1/audit').query({ from }).set(auditor).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(res.body)).toContain('from');
      const to = await g.http().get('/v1/audit').query({ to: from }).set(auditor).expect(400);
      expect(JSON.stringify(to.body)).toContain('to');
    },
  );

  it('with a duplicate key, validates and sends the same (last) value', async () => {
    const body = `{"label":"dup","role_id":"${CI_ROLE_ID}","valid_for_seconds":"bad","valid_for_seconds":600}`;
    const res = await g
      .http()
      .post(`/qwiet/api/v4/orgs/${org}/tokens`)
      .set(bearer)
      .set('content-type', 'application/json')
      .send(body)
      .expect(200);
    expect(res.body.response.valid_for_seconds).toBe(600);
  });

  it('leaves an audit ledger that verifies after all of it', async () => {
    expect(await verifyStored(g.db.url, TEST_AUDIT_KEY)).toMatchObject({ ok: true });
  });
});
