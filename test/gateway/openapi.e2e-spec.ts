import { useStack } from '../support/gateway';

interface Operation {
  responses: Record<
    string,
    { headers?: Record<string, unknown>; content?: Record<string, { schema: { $ref: string } }> }
  >;
}

const READ = ['200', '400', '401', '403', '404', '429', '502', '503', '504'];
const BODY = ['413', '415'];
/** Creates and regenerations with an Idempotency-Key: a replay or one in progress, a key reused. */
const IDEMPOTENT = ['409', '422'];

/** What each vendor route can answer, worked out from the code paths (not from the decorators). */
const EXPECTED: Record<string, string[]> = {
  'get /qwiet/api/v4/orgs/{orgId}/roles': READ,
  'get /qwiet/api/v4/orgs/{orgId}/tokens': READ,
  'post /qwiet/api/v4/orgs/{orgId}/tokens': [...READ, ...BODY, ...IDEMPOTENT],
  'delete /qwiet/api/v4/orgs/{orgId}/tokens/{tokenId}': READ,
  'get /octane/api/shared_spaces/{spaceId}/roles': READ,
  'get /octane/api/shared_spaces/{spaceId}/workspace_roles': READ,
  'get /octane/api/shared_spaces/{spaceId}/api_accesses': READ,
  'post /octane/api/shared_spaces/{spaceId}/api_accesses': [...READ, ...BODY, ...IDEMPOTENT].map(
    (s) => (s === '200' ? '201' : s),
  ),
  'get /octane/api/shared_spaces/{spaceId}/api_accesses/{id}': READ,
  'put /octane/api/shared_spaces/{spaceId}/api_accesses/{id}': [...READ, ...BODY, ...IDEMPOTENT],
  'delete /octane/api/shared_spaces/{spaceId}/api_accesses/{id}': ['405'],
  'post /octane/authentication/sign_in': ['200', '400', '401', '429', ...BODY],
  'post /octane/authentication/sign_out': ['200', '400', '401', '429', ...BODY],
};
const DECIDED = [
  'post /qwiet/api/v4/orgs/{orgId}/tokens',
  'delete /qwiet/api/v4/orgs/{orgId}/tokens/{tokenId}',
  'post /octane/api/shared_spaces/{spaceId}/api_accesses',
  'put /octane/api/shared_spaces/{spaceId}/api_accesses/{id}',
];

describe('gateway: the OpenAPI document lists what each vendor route can answer', () => {
  const stack = useStack();
  let doc: {
    info: { description: string };
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, { properties: Record<string, unknown> }> };
  };
  beforeAll(async () => {
    doc = (await stack.g.http().get('/docs-json').expect(200)).body;
  });
  const vendorOperations = () =>
    Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/qwiet/') || path.startsWith('/octane/'))
      .flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => [`${method} ${path}`, op] as const),
      );

  it('documents exactly the vendor routes Keygate serves, each with every status it can answer', () => {
    const operations = Object.fromEntries(vendorOperations());
    expect(Object.keys(operations).sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const [route, statuses] of Object.entries(EXPECTED)) {
      expect([route, Object.keys(operations[route].responses).sort()]).toEqual([
        route,
        [...statuses].sort(),
      ]);
    }
  });

  it('names the headers: X-Request-Id everywhere, policy and no-store on decided changes, Retry-After, WWW-Authenticate, Allow', () => {
    for (const [route, op] of vendorOperations()) {
      for (const [status, response] of Object.entries(op.responses)) {
        const headers = Object.keys(response.headers ?? {});
        expect([route, status, headers]).toEqual([
          route,
          status,
          expect.arrayContaining(['X-Request-Id']),
        ]);
        const must = [
          ...(status === '401' ? ['WWW-Authenticate'] : []),
          ...(status === '429' || status === '503' ? ['Retry-After'] : []),
          ...(status === '405' ? ['Allow'] : []),
          ...(DECIDED.includes(route) && status.startsWith('2')
            ? ['X-Keygate-Policy-Revision', 'X-Keygate-Policy-Warnings', 'Cache-Control']
            : []),
        ];
        expect([route, status, headers]).toEqual([route, status, expect.arrayContaining(must)]);
      }
    }
  });

  it('documents the error envelopes as they are sent, and the codes that matter', () => {
    const qwiet = doc.components.schemas.QwietErrorDto.properties;
    const octane = doc.components.schemas.OctaneErrorDto.properties;
    for (const field of ['ok', 'code', 'message', 'validation_errors'])
      expect(qwiet).toHaveProperty(field);
    for (const field of [
      'error_code',
      'correlation_id',
      'description',
      'description_translated',
      'properties',
    ])
      expect(octane).toHaveProperty(field);
    for (const envelope of [qwiet, octane]) {
      for (const field of ['violations', 'policy_revision', 'retry_after_seconds'])
        expect(envelope).toHaveProperty(field);
    }
    expect(doc.components.schemas.OctaneBulkErrorDto.properties).toHaveProperty('errors');

    const text = (route: string, status: string) => {
      const [method, path] = route.split(' ');
      return JSON.stringify(doc.paths[path][method].responses[status]);
    };
    expect(text('post /qwiet/api/v4/orgs/{orgId}/tokens', '429')).toContain('QUOTA_EXCEEDED');
    expect(text('get /qwiet/api/v4/orgs/{orgId}/tokens', '429')).not.toContain('QUOTA_EXCEEDED');
    expect(text('post /octane/api/shared_spaces/{spaceId}/api_accesses', '503')).toContain(
      'AUDIT_UNAVAILABLE',
    );
    expect(text('get /octane/api/shared_spaces/{spaceId}/roles', '503')).toContain(
      'VENDOR_CIRCUIT_OPEN',
    );
    for (const route of [
      'delete /qwiet/api/v4/orgs/{orgId}/tokens/{tokenId}',
      'put /octane/api/shared_spaces/{spaceId}/api_accesses/{id}',
    ])
      expect(text(route, '403')).toContain('PROTECTED_CREDENTIAL');
    expect(text('post /qwiet/api/v4/orgs/{orgId}/tokens', '403')).not.toContain(
      'PROTECTED_CREDENTIAL',
    );
    expect(text('post /octane/api/shared_spaces/{spaceId}/api_accesses', '409')).toContain(
      'OctaneBulkErrorDto',
    );
  });

  it('documents X-Keygate-Team on the routes that issue, and only there', () => {
    const named = vendorOperations()
      .filter(([, op]) =>
        ((op as { parameters?: { name: string; in: string }[] }).parameters ?? []).some(
          (p) => p.in === 'header' && p.name === 'X-Keygate-Team',
        ),
      )
      .map(([route]) => route)
      .sort();
    expect(named).toEqual([
      'post /octane/api/shared_spaces/{spaceId}/api_accesses',
      'post /qwiet/api/v4/orgs/{orgId}/tokens',
      'put /octane/api/shared_spaces/{spaceId}/api_accesses/{id}',
    ]);
  });

  it('says how to get a token', () => {
    expect(doc.info.description).toContain('`sub`');
    expect(doc.info.description).toContain('`team`');
    expect(doc.info.description).toContain('npm run -s token -- --team payments --sub alice');
  });
});
