import request from 'supertest';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { asDatabase, ledgerRecords } from '../support/db';
import {
  startGateway,
  StartedGateway,
  StartedSimulator,
  useStack,
  writePolicy,
} from '../support/gateway';

/**
 * Teams payments and platform both use the first org and shared space (platform also the second),
 * so one org holds both teams' credentials.
 */
function sharedPolicy(s: StartedSimulator): string {
  const [orgA, orgB] = s.options.qwietOrgs;
  const [spaceA, spaceB] = s.options.octaneSpaces;
  return [
    'version: 1',
    'teams:',
    `  payments: { qwiet_orgs: [${orgA.id}], octane_shared_spaces: ['${spaceA.id}'] }`,
    `  platform: { qwiet_orgs: [${orgA.id}, ${orgB.id}], octane_shared_spaces: ['${spaceA.id}', '${spaceB.id}'] }`,
    '',
  ].join('\n');
}

interface Credential {
  vendor: string;
  scope: string;
  credential_id: string;
  owner_team: string;
  subject: string;
  status: string;
  created_at: string;
  expires_at: string | null;
  name: string | null;
}

const keyOf = (c: Credential) => `${c.vendor}/${c.scope}/${c.credential_id}`;

describe('gateway: the credentials inventory (GET /v1/credentials)', () => {
  let s: StartedSimulator;
  let g: StartedGateway;
  let orgA: string;
  let orgB: string;
  let alice: { Authorization: string };
  let bob: { Authorization: string };
  let auditor: { Authorization: string };
  let admin: { Authorization: string };
  const aliceTokens: string[] = [];
  const aliceKeys: string[] = [];
  const bobTokensInA: string[] = [];
  let bobKeyInA: string;
  let behindToken: string;
  let behindKey: string;
  const qwietTokens = (org: string) => `/qwiet/api/v4/orgs/${org}/tokens`;
  const keys = (space: string) => `/octane/api/shared_spaces/${space}/api_accesses`;

  const issueToken = async (
    who: { Authorization: string },
    org: string,
    label: string,
    lifetime?: number,
  ) =>
    String(
      (
        await g
          .http()
          .post(qwietTokens(org))
          .set(who)
          .send({
            label,
            role_id: CI_ROLE_ID,
            token_type: 'access',
            ...(lifetime !== undefined && { valid_for_seconds: lifetime }),
          })
          .expect(200)
      ).body.response.id,
    );
  const createKey = async (who: { Authorization: string }, space: string, name: string) =>
    String(
      (
        await g
          .http()
          .post(keys(space))
          .set(who)
          .send({ data: [{ name }] })
          .expect(201)
      ).body.data[0].id,
    );
  const list = async (
    who: { Authorization: string },
    query: Record<string, string | number> = {},
  ) =>
    (await g.http().get('/v1/credentials').query(query).set(who).expect(200)).body as {
      credentials: Credential[];
      next_cursor?: string;
    };
  /** Every page of a listing, walked with the cursor (bounded). */
  const walk = async (who: { Authorization: string }, query: Record<string, string | number>) => {
    const pages: Credential[][] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 100; i++) {
      const page = await list(who, { ...query, ...(cursor !== undefined && { cursor }) });
      pages.push(page.credentials);
      cursor = page.next_cursor;
      if (cursor === undefined) break;
    }
    return pages;
  };

  const stack = useStack((sim) => ({ POLICY_FILE: writePolicy(sharedPolicy(sim)) }));
  beforeAll(async () => {
    ({ s, g } = stack);
    [{ id: orgA }, { id: orgB }] = s.options.qwietOrgs;
    alice = { Authorization: `Bearer ${await g.token({ sub: 'alice', team: 'payments' })}` };
    bob = { Authorization: `Bearer ${await g.token({ sub: 'bob', team: 'platform' })}` };
    auditor = {
      Authorization: `Bearer ${await g.token({ sub: 'audrey', team: 'security', roles: ['keygate:auditor'] })}`,
    };
    admin = {
      Authorization: `Bearer ${await g.token({ sub: 'root', team: 'ops', roles: ['keygate:admin'] })}`,
    };
    // Issued one after another: their creation times (and so the inventory's order) differ.
    aliceTokens.push(await issueToken(alice, orgA, 'a-ci-1', 3600));
    aliceTokens.push(await issueToken(alice, orgA, 'a-ci-2', 7200));
    aliceTokens.push(await issueToken(alice, orgA, 'a-ci-3'));
    aliceKeys.push(await createKey(alice, '1001', 'a-key-1'));
    aliceKeys.push(await createKey(alice, '1001', 'a-key-2'));
    bobTokensInA.push(await issueToken(bob, orgA, 'b-ci-1', 3600));
    await issueToken(bob, orgB, 'b-ci-2', 3600);
    bobKeyInA = await createKey(bob, '1001', 'b-key-1');
    await createKey(bob, s.options.octaneSpaces[1].id, 'b-key-2');
    // Created at the vendors behind Keygate's back: Keygate never issued them.
    behindToken = String(
      (
        await request(s.sim.url)
          .post(`/api/v4/orgs/${orgA}/tokens`)
          .set({ Authorization: `Bearer ${s.options.qwietOrgs[0].adminToken}` })
          .send({ label: 'a-ci-behind', role_id: CI_ROLE_ID, token_type: 'access' })
          .expect(200)
      ).body.response.id,
    );
    behindKey = await s.admin.octaneKeyBehindKeygate({ name: 'a-key-behind' });
  });

  describe('who sees what', () => {
    it('a member sees only their team’s credentials, of both vendors, with owner, times and status', async () => {
      const { credentials, next_cursor } = await list(alice);
      expect(next_cursor).toBeUndefined();
      expect(credentials.map((c) => c.credential_id).sort()).toEqual(
        [...aliceTokens, ...aliceKeys].sort(),
      );
      expect(credentials.every((c) => c.owner_team === 'payments')).toBe(true);
      const token = credentials.find((c) => c.credential_id === aliceTokens[0]);
      expect(token).toMatchObject({
        vendor: 'qwiet',
        scope: orgA,
        owner_team: 'payments',
        subject: 'alice',
        status: 'active',
        name: 'a-ci-1',
        created_at: expect.any(String),
        expires_at: expect.any(String),
        verified_at: null,
        last_checked_at: null,
      });
      expect(token).not.toHaveProperty('fingerprint');
      // Asking for another team's credentials shows nothing, not theirs.
      expect((await list(alice, { team: 'platform' })).credentials).toEqual([]);
    });

    it('auditors and admins see every team’s; an auditor’s read is recorded as audit.read, a member’s is not', async () => {
      const before = (await ledgerRecords(g.db.url)).length;
      const byAuditor = await list(auditor, { limit: 500 });
      const byAdmin = await list(admin, { limit: 500 });
      const teams = new Set(byAuditor.credentials.map((c) => c.owner_team));
      expect(teams).toEqual(new Set(['payments', 'platform']));
      expect(byAuditor.credentials).toHaveLength(9);
      expect(byAdmin.credentials.map(keyOf)).toEqual(byAuditor.credentials.map(keyOf));
      // Never one Keygate did not issue.
      const ids = byAdmin.credentials.map((c) => c.credential_id);
      expect(ids).not.toContain(behindToken);
      expect(ids).not.toContain(behindKey);
      await list(alice);
      const reads = (await ledgerRecords(g.db.url))
        .slice(before)
        .filter((r) => r.event === 'audit.read');
      expect(reads.map((r) => r.actor.subject)).toEqual(['audrey', 'root']);
      expect(reads[0].read).toEqual({
        kind: 'query',
        filters: { resource: 'credentials', limit: 500 },
        records: 9,
      });
    });
  });

  describe('filters and pages', () => {
    it('filters by vendor, scope, team, subject, status, expires_before and created_after', async () => {
      const ids = async (query: Record<string, string | number>) =>
        (await list(auditor, { limit: 500, ...query })).credentials
          .map((c) => c.credential_id)
          .sort();
      expect(await ids({ vendor: 'octane', scope: '1001' })).toEqual(
        [...aliceKeys, bobKeyInA].sort(),
      );
      expect(await ids({ vendor: 'qwiet', scope: orgA.toUpperCase() })).toEqual(
        [...aliceTokens, ...bobTokensInA].sort(),
      );
      expect(await ids({ team: 'platform', vendor: 'qwiet', scope: orgA })).toEqual(bobTokensInA);
      expect(await ids({ subject: 'alice', vendor: 'octane' })).toEqual([...aliceKeys].sort());
      // Tokens of 3600 s expire within 5000 s; the 7200 s one and those without expiry do not.
      const soon = new Date(Date.now() + 5000_000).toISOString();
      expect(await ids({ subject: 'alice', expires_before: soon })).toEqual([aliceTokens[0]]);
      const all = (await list(auditor, { limit: 500 })).credentials;
      const third = all.find((c) => c.credential_id === aliceTokens[2]) as Credential;
      const newer = all.filter((c) => c.created_at >= third.created_at).map((c) => c.credential_id);
      expect(await ids({ created_after: third.created_at })).toEqual(newer.sort());
      expect(await ids({ status: 'revoked' })).toEqual([]);
      expect(
        (await ids({ status: 'active' })).length + (await ids({ status: 'revoked' })).length,
      ).toBe(9);
    });

    it('walks every page with the cursor: newest first, no duplicate, no gap', async () => {
      const whole = (await list(auditor, { limit: 500 })).credentials;
      const pages = await walk(auditor, { limit: 2 });
      expect(pages.map((p) => p.length)).toEqual([2, 2, 2, 2, 1]);
      const walked = pages.flat();
      expect(walked.map(keyOf)).toEqual(whole.map(keyOf));
      expect(new Set(walked.map(keyOf)).size).toBe(walked.length);
      const times = walked.map((c) => c.created_at);
      expect([...times].sort().reverse()).toEqual(times);
      // A member's pages, with a filter: only their own, each once.
      const mine = (await walk(alice, { limit: 1, vendor: 'qwiet' })).flat();
      expect(mine.map((c) => c.credential_id).sort()).toEqual([...aliceTokens].sort());
    });

    it('refuses a cursor it did not make and bad filters (400 VALIDATION_FAILED)', async () => {
      for (const query of [
        { cursor: 'bm90LWEtY3Vyc29y' },
        { cursor: 'x'.repeat(2000) },
        { status: 'lost' },
        { vendor: 'github' },
        { limit: 0 },
        { expires_before: 'soon' },
        // ISO-8601 week and ordinal dates: valid ISO, but no date JavaScript can read.
        { expires_before: '2026-W10' },
        { created_after: '2026-060' },
      ]) {
        const res = await g.http().get('/v1/credentials').query(query).set(auditor).expect(400);
        expect(res.body.code).toBe('VALIDATION_FAILED');
      }
    });
  });

  describe('one credential with its history', () => {
    it('answers the row and its audit records; another team’s id is a 404 for a member, like an unknown one', async () => {
      const mine = await g
        .http()
        .get(`/v1/credentials/qwiet/${orgA}/${aliceTokens[0]}`)
        .set(alice)
        .expect(200);
      expect(mine.body.credential).toMatchObject({
        credential_id: aliceTokens[0],
        owner_team: 'payments',
        subject: 'alice',
      });
      expect(
        mine.body.history.map((r: { event: string; phase: string }) => `${r.event}:${r.phase}`),
      ).toEqual(['qwiet.token.issue:succeeded', 'qwiet.token.issue:attempt']);
      expect(mine.body.history_truncated).toBe(false);

      const theirs = await g
        .http()
        .get(`/v1/credentials/octane/1001/${bobKeyInA}`)
        .set(alice)
        .expect(404);
      const unknown = await g
        .http()
        .get('/v1/credentials/octane/1001/999999')
        .set(alice)
        .expect(404);
      expect(theirs.body.code).toBe('NOT_FOUND');
      expect(unknown.body.code).toBe('NOT_FOUND');
      // Keygate never issued it: not in the inventory, even for an admin.
      await g.http().get(`/v1/credentials/qwiet/${orgA}/${behindToken}`).set(admin).expect(404);

      const before = (await ledgerRecords(g.db.url)).length;
      const seen = await g
        .http()
        .get(`/v1/credentials/octane/1001/${bobKeyInA}`)
        .set(auditor)
        .expect(200);
      expect(seen.body.credential).toMatchObject({ owner_team: 'platform', subject: 'bob' });
      const read = (await ledgerRecords(g.db.url)).slice(before);
      expect(read).toHaveLength(1);
      expect(read[0]).toMatchObject({
        event: 'audit.read',
        actor: { subject: 'audrey' },
        read: {
          kind: 'query',
          filters: {
            resource: 'credential',
            vendor: 'octane',
            scope: '1001',
            credential_id: bobKeyInA,
          },
          records: 2,
        },
      });
    });
  });

  describe('the vendor lists, scoped to the team', () => {
    it('Qwiet: a member sees only their team’s tokens (not another team’s, not Keygate’s own, not one made behind its back); an admin sees all', async () => {
      const asAlice = await g.http().get(qwietTokens(orgA)).set(alice).expect(200);
      expect(asAlice.body.ok).toBe(true);
      expect(asAlice.body.response.map((t: { id: string }) => t.id).sort()).toEqual(
        [...aliceTokens].sort(),
      );
      const asBob = await g.http().get(qwietTokens(orgA)).set(bob).expect(200);
      expect(asBob.body.response.map((t: { id: string }) => t.id)).toEqual(bobTokensInA);
      const direct = await request(s.sim.url)
        .get(`/api/v4/orgs/${orgA}/tokens`)
        .set({ Authorization: `Bearer ${s.options.qwietOrgs[0].adminToken}` })
        .expect(200);
      const asAdmin = await g.http().get(qwietTokens(orgA)).set(admin).expect(200);
      expect(asAdmin.body).toEqual(direct.body);
      const all = asAdmin.body.response.map((t: { id: string }) => t.id);
      expect(all).toEqual(expect.arrayContaining([...aliceTokens, ...bobTokensInA, behindToken]));
      expect(all.length).toBeGreaterThan(aliceTokens.length + bobTokensInA.length + 1);
    });

    it('Octane: a member sees only their team’s keys, paged and counted as Octane would; an admin sees all', async () => {
      const asAlice = await g.http().get(keys('1001')).set(alice).expect(200);
      expect(asAlice.body).toEqual({
        total_count: 2,
        data: expect.any(Array),
        exceeds_total_count: false,
      });
      expect(asAlice.body.data.map((k: { id: string }) => k.id)).toEqual([...aliceKeys].sort());
      // The member's own paging: total_count is what they may see, pages cut from it.
      const second = await g
        .http()
        .get(keys('1001'))
        .query({ limit: 1, offset: 1, order_by: '-id', fields: 'name' })
        .set(alice)
        .expect(200);
      expect(second.body.total_count).toBe(2);
      expect(second.body.data).toEqual([
        expect.objectContaining({
          type: 'api_access',
          id: [...aliceKeys].sort()[0],
          name: 'a-key-1',
        }),
      ]);
      const queried = await g
        .http()
        .get(keys('1001'))
        .query({ query: '"name EQ \'a-key-2\'"' })
        .set(alice)
        .expect(200);
      expect(queried.body).toMatchObject({ total_count: 1, data: [{ id: aliceKeys[1] }] });
      // A query nobody of the team matches, and Octane's own error, are answered as Octane's.
      const bad = await g.http().get(keys('1001')).query({ query: '"nosuch EQ 1"' }).set(alice);
      expect(bad.status).toBe(400);
      const asAdmin = await g
        .http()
        .get(keys('1001'))
        .query({ limit: 1000 })
        .set(admin)
        .expect(200);
      const all = asAdmin.body.data.map((k: { id: string }) => k.id);
      expect(all).toEqual(expect.arrayContaining([...aliceKeys, bobKeyInA, behindKey]));
      expect(asAdmin.body.total_count).toBe(all.length);
      const asBob = await g.http().get(keys('1001')).set(bob).expect(200);
      expect(asBob.body).toMatchObject({ total_count: 1, data: [{ id: bobKeyInA }] });
    });

    it('Octane: a member reads one key only when their team owns it (another team’s, or one made behind Keygate’s back, is a 404 as Octane answers an unknown id); an admin reads any', async () => {
      const one = (id: string) => `${keys('1001')}/${id}`;
      const mine = await g.http().get(one(aliceKeys[0])).set(alice).expect(200);
      expect(mine.body).toMatchObject({ id: aliceKeys[0], name: 'a-key-1' });
      for (const id of [bobKeyInA, behindKey]) {
        const refused = await g.http().get(one(id)).set(alice).expect(404);
        expect(JSON.stringify(refused.body)).not.toContain('b-key-1');
        expect(JSON.stringify(refused.body)).not.toContain('a-key-behind');
      }
      await g.http().get(one(bobKeyInA)).set(bob).expect(200);
      await g.http().get(one(behindKey)).set(admin).expect(200);
    });
  });
  describe('without the inventory', () => {
    it('a member’s vendor list is refused (503 AUDIT_UNAVAILABLE in the vendor’s envelope), never shown whole; an admin’s still answers', async () => {
      const own = await startGateway(
        s,
        { POLICY_FILE: writePolicy(sharedPolicy(s)) },
        { database: 'own' },
      );
      try {
        const member = {
          Authorization: `Bearer ${await own.token({ sub: 'alice', team: 'payments' })}`,
        };
        const boss = {
          Authorization: `Bearer ${await own.token({ sub: 'root', team: 'ops', roles: ['keygate:admin'] })}`,
        };
        await own.http().get(qwietTokens(orgA)).set(member).expect(200);
        // The inventory cannot be read (as when the database refuses it).
        await asDatabase(own.db.url, 'ALTER TABLE credentials RENAME TO credentials_away');
        try {
          const qwiet = await own.http().get(qwietTokens(orgA)).set(member).expect(503);
          expect(qwiet.body).toMatchObject({ ok: false, code: 'AUDIT_UNAVAILABLE' });
          const octane = await own.http().get(keys('1001')).set(member).expect(503);
          expect(octane.body).toMatchObject({ error_code: 'AUDIT_UNAVAILABLE' });
          const inventory = await own.http().get('/v1/credentials').set(member).expect(503);
          expect(inventory.body.code).toBe('AUDIT_UNAVAILABLE');
          await own.http().get(qwietTokens(orgA)).set(boss).expect(200);
        } finally {
          await asDatabase(own.db.url, 'ALTER TABLE credentials_away RENAME TO credentials');
        }
        await own.http().get(qwietTokens(orgA)).set(member).expect(200);
      } finally {
        await own.close();
      }
    });
  });
});

describe('gateway: an inventory row whose owner_team a database writer changed', () => {
  const stack = useStack(
    (sim) => ({
      POLICY_FILE: writePolicy(
        sharedPolicy(sim).replace('teams:', 'rules:\n  revocation:\n    other_team: {}\nteams:'),
      ),
    }),
    {},
    { database: 'own' },
  );

  it('the ledger’s owner decides: the team written into the row neither sees nor changes the credential, the team that issued it still may', async () => {
    const { s, g } = stack;
    const orgA = s.options.qwietOrgs[0].id;
    const as = async (sub: string, team: string) => ({
      Authorization: `Bearer ${await g.token({ sub, team })}`,
    });
    const alice = await as('alice', 'payments');
    const token = String(
      (
        await g
          .http()
          .post(`/qwiet/api/v4/orgs/${orgA}/tokens`)
          .set(alice)
          .send({ label: 'a-ci', role_id: CI_ROLE_ID, token_type: 'access' })
          .expect(200)
      ).body.response.id,
    );
    const key = String(
      (
        await g
          .http()
          .post('/octane/api/shared_spaces/1001/api_accesses')
          .set(alice)
          .send({ data: [{ name: 'a-key' }] })
          .expect(201)
      ).body.data[0].id,
    );
    await asDatabase(g.db.url, "UPDATE credentials SET owner_team = 'platform'");
    // Another instance on the same database (this one remembers the owners it issued for).
    const other = await startGateway(s, {
      DATABASE_URL: g.db.url,
      POLICY_FILE: g.config.policyFile,
    });
    try {
      const bob = {
        Authorization: `Bearer ${await other.token({ sub: 'bob', team: 'platform' })}`,
      };
      const mine = (await other.http().get('/v1/credentials').set(bob).expect(200)).body
        .credentials as Credential[];
      expect(mine).toEqual([]);
      await other.http().get(`/v1/credentials/qwiet/${orgA}/${token}`).set(bob).expect(404);
      const listed = await other
        .http()
        .get(`/qwiet/api/v4/orgs/${orgA}/tokens`)
        .set(bob)
        .expect(200);
      expect(listed.body.response.map((t: { id: string }) => t.id)).not.toContain(token);
      await other
        .http()
        .get(`/octane/api/shared_spaces/1001/api_accesses/${key}`)
        .set(bob)
        .expect(404);
      // Changing it: refused as another team's (revocation.other_team), decided on the ledger.
      await other.http().post(`/v1/credentials/octane/1001/${key}/rotate`).set(bob).expect(403);
      await other.http().delete(`/qwiet/api/v4/orgs/${orgA}/tokens/${token}`).set(bob).expect(403);
      // The team that issued it (the ledger says so) still revokes it.
      const alice2 = {
        Authorization: `Bearer ${await other.token({ sub: 'alice', team: 'payments' })}`,
      };
      await other
        .http()
        .delete(`/qwiet/api/v4/orgs/${orgA}/tokens/${token}`)
        .set(alice2)
        .expect(200);
    } finally {
      await other.close();
    }
  });
});

describe('gateway: a credential’s history shows a member nothing of other credentials', () => {
  const stack = useStack(
    (sim) => ({ POLICY_FILE: writePolicy(sharedPolicy(sim)) }),
    {},
    {
      database: 'own',
    },
  );

  it('a drift pass that found both teams’ tokens revoked outside: each team’s history has its own finding only, not the other’s nor the pass summary', async () => {
    const { s, g } = stack;
    const orgA = s.options.qwietOrgs[0].id;
    const as = async (sub: string, team: string, roles: string[] = []) => ({
      Authorization: `Bearer ${await g.token({ sub, team, roles })}`,
    });
    const alice = await as('alice', 'payments');
    const bob = await as('bob', 'platform');
    const issue = async (who: { Authorization: string }, label: string) =>
      String(
        (
          await g
            .http()
            .post(`/qwiet/api/v4/orgs/${orgA}/tokens`)
            .set(who)
            .send({ label, role_id: CI_ROLE_ID, token_type: 'access' })
            .expect(200)
        ).body.response.id,
      );
    const mine = await issue(alice, 'alice-secret-project');
    const theirs = await issue(bob, 'bob-secret-project');
    for (const id of [mine, theirs])
      await request(s.sim.url).delete(`/__sim/qwiet/orgs/${orgA}/tokens/${id}`).expect(200);
    await g
      .http()
      .post('/v1/reconcile')
      .set(await as('root', 'ops', ['keygate:admin']))
      .expect(200);

    const history = (
      await g.http().get(`/v1/credentials/qwiet/${orgA}/${mine}`).set(alice).expect(200)
    ).body.history as { event: string; phase: string; target: { credential_id?: string } }[];
    expect(history.map((r) => [r.event, r.phase])).toEqual([
      ['drift.revoked_outside', 'succeeded'],
      ['qwiet.token.issue', 'succeeded'],
      ['qwiet.token.issue', 'attempt'],
    ]);
    expect(JSON.stringify(history)).not.toContain(theirs);
    expect(JSON.stringify(history)).not.toContain('bob-secret-project');
  });
});
