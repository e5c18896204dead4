import { startSimulator, StartedSimulator } from '../support/simulator';

describe('upstream-sim: Octane roles and workspace_roles queries', () => {
  let s: StartedSimulator;
  let cookie: string;
  const space = '/api/shared_spaces/1001';
  const ids = (body: { data: { id: string }[] }) => body.data.map((e) => e.id);
  const get = (path: string) => s.http().get(`${space}${path}`).set('Cookie', cookie);

  beforeAll(async () => {
    s = await startSimulator();
    const { clientId, clientSecret } = s.options.octaneSpaces[0];
    const res = await s
      .http()
      .post('/authentication/sign_in')
      .send({ client_id: clientId, client_secret: clientSecret })
      .expect(200);
    cookie = (res.headers['set-cookie'] as unknown as string[])
      .map((c) => c.split(';')[0])
      .join('; ');
  });
  afterAll(() => s.sim.close());

  it('lists roles with every documented field', async () => {
    const res = await get('/roles').expect(200);
    expect(res.body.total_count).toBe(res.body.data.length);
    expect(res.body.exceeds_total_count).toBe(false);
    expect(res.body.data).toContainEqual({
      type: 'role',
      logical_name: 'role.shared.space.admin',
      based_on_system: null,
      last_modified: '2021-04-28T11:29:44Z',
      workspace_id: 1001,
      id: '1015',
      is_system: true,
      name: 'Space Admin',
      version_stamp: 1,
      creation_time: '2021-04-28T11:29:44Z',
    });
  });

  describe('the documented examples', () => {
    it('workspace_roles?fields=role&query="(role={id=1007};workspace={id=1003})" -> 1037', async () => {
      const res = await get(
        '/workspace_roles?fields=role&query="(role={id=1007};workspace={id=1003})"',
      ).expect(200);
      expect(res.body).toEqual({
        total_count: 1,
        data: [
          {
            type: 'workspace_role',
            id: '1037',
            role: {
              type: 'role',
              id: '1007',
              logical_name: 'role.workspace.admin',
              name: 'Workspace Admin',
            },
          },
        ],
        exceeds_total_count: false,
      });
    });

    it('query="(role={id=1015})" -> the space admin workspace role 1009', async () => {
      expect(
        ids((await get('/workspace_roles?fields=role&query="(role={id=1015})"').expect(200)).body),
      ).toEqual(['1009']);
    });

    it('query="(workspace={id=1002})" -> the roles of workspace 1002, including 1027 and 1028', async () => {
      const res = await get('/workspace_roles?fields=role&query="(workspace={id=1002})"').expect(
        200,
      );
      expect(ids(res.body)).toEqual(expect.arrayContaining(['1027', '1028']));
      expect(res.body.total_count).toBe(7);
    });
  });

  it.each([
    [
      'EQ keyword and a percent-encoded query',
      `query=${encodeURIComponent('"role EQ {id EQ 1007}"')}`,
      ['1033', '1037'],
    ],
    ['IN on ids', 'query="id IN 1027,1028,9999"', ['1027', '1028']],
    ['|| (or)', 'query="id=1027||id=1037"', ['1027', '1037']],
    [
      '! (not) with parentheses',
      'query="!(workspace={id=1002});!(workspace={null})"',
      ['1034', '1035', '1036', '1037'],
    ],
    ['reference is null', 'query="workspace={null}"', ['1009']],
    [
      'quoted string cross-filter',
      `query="role={logical_name='role.workspace.admin'}"`,
      ['1033', '1037'],
    ],
    [
      'caret string (JS SDK style)',
      'query="role EQ {logical_name EQ ^role.shared.space.admin^}"',
      ['1009'],
    ],
    ['starts-with wildcard', `query="role={name='Dev*'}"`, ['1028', '1035']],
    ['BTW range', 'query="id BTW 1027...1029"', ['1027', '1028', '1029']],
    [
      '; binds tighter than ||',
      'query="id=1009||id GT 1035;workspace={id=1003}"',
      ['1009', '1036', '1037'],
    ],
    [
      'nested cross-filter',
      `query="workspace={name='payments_workspace'};role={id=1007}"`,
      ['1037'],
    ],
  ])('filters with %s', async (_case, query, expected) => {
    const res = await get(`/workspace_roles?${query}`).expect(200);
    expect(ids(res.body)).toEqual(expected);
    expect(res.body.total_count).toBe(expected.length);
  });

  it('pages with limit/offset while total_count counts every match', async () => {
    const page = await get('/workspace_roles?limit=3&offset=2').expect(200);
    expect(page.body.total_count).toBe(12);
    expect(ids(page.body)).toEqual(['1028', '1029', '1030']);
  });

  it('orders with order_by, "-" for descending', async () => {
    expect(ids((await get('/roles?order_by=-id&limit=2').expect(200)).body)).toEqual([
      '1015',
      '1007',
    ]);
    const byName = (await get('/roles?order_by=name&fields=name').expect(200)).body.data.map(
      (r: { name: string }) => r.name,
    );
    expect(byName).toEqual([...byName].sort((a: string, b: string) => a.localeCompare(b)));
  });

  it('never shows inherited names as sub-fields', async () => {
    const res = await get('/workspace_roles?fields=role{constructor,name}&query="id=1009"').expect(
      200,
    );
    expect(res.body.data[0].role).toEqual({ type: 'role', id: '1015', name: 'Space Admin' });
  });

  it('selects reference sub-fields with fields=role{logical_name}', async () => {
    const res = await get('/workspace_roles?fields=role{logical_name}&query="id=1009"').expect(200);
    expect(res.body.data).toEqual([
      {
        type: 'workspace_role',
        id: '1009',
        role: { type: 'role', id: '1015', logical_name: 'role.shared.space.admin' },
      },
    ]);
  });

  it.each([
    ['an unknown field in query', 'query="colour=1"', 'platform.unknown_field'],
    ['an unknown field in fields', 'fields=colour', 'platform.unknown_field'],
    ['an inherited name in fields', 'fields=valueOf', 'platform.unknown_field'],
    ['an inherited name in query', 'query="constructor=1"', 'platform.unknown_field'],
    ['an inherited name in order_by', 'order_by=toString', 'platform.unknown_field'],
    ['an unknown field in order_by', 'order_by=colour', 'platform.unknown_field'],
    ['a syntax error', 'query="(id=1"', 'platform.general_error'],
    ['an unquoted string', 'query="name=Space"', 'platform.general_error'],
    ['limit 0', 'limit=0', 'platform.general_error'],
    ['limit over the maximum', 'limit=1001', 'platform.general_error'],
    ['a negative offset', 'offset=-1', 'platform.general_error'],
  ])('answers 400 in the error envelope for %s', async (_case, query, code) => {
    const res = await get(`/roles?${query}`).expect(400);
    expect(res.body).toMatchObject({
      error_code: code,
      correlation_id: expect.stringMatching(/^[0-9a-z]{25}$/),
    });
    expect(res.body.description_translated).toBe(res.body.description);
  });
});
