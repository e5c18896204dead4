import { fingerprint } from '@app/audit';
import type { AuditRecord } from '@app/audit';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { asDatabase, ledgerRecords, storedText } from '../support/db';
import { until } from '../support/until';
import {
  StartedGateway,
  StartedSimulator,
  TEST_AUDIT_KEY,
  useStack,
  writePolicy,
} from '../support/gateway';

/** payments: the first org and shared space; platform: both orgs and spaces. */
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

interface Offboarded {
  vendor: string;
  scope: string;
  credential_id: string;
  subject: string;
  owner_team: string;
  outcome: string;
  status: string;
  vendor_status?: number;
  error?: string;
  request_id?: string;
}

type Bearer = { Authorization: string };

describe('gateway: offboarding (POST /v1/credentials/revoke) and leaks (POST /v1/leaks)', () => {
  let s: StartedSimulator;
  let g: StartedGateway;
  let orgA: string;
  let orgB: string;
  let spaceB: string;
  let admin: Bearer;
  const as = async (sub: string, team = 'payments') => ({
    Authorization: `Bearer ${await g.token({ sub, team })}`,
  });
  const issueToken = async (who: Bearer, org: string, label: string) =>
    (
      await g
        .http()
        .post(`/qwiet/api/v4/orgs/${org}/tokens`)
        .set(who)
        .send({ label, role_id: CI_ROLE_ID, token_type: 'access' })
        .expect(200)
    ).body.response as { id: string; value: string };
  const createKey = async (who: Bearer, space: string, name: string, secret?: string) =>
    (
      await g
        .http()
        .post(`/octane/api/shared_spaces/${space}/api_accesses`)
        .set(who)
        .send({ data: [{ name, ...(secret !== undefined && { client_secret: secret }) }] })
        .expect(201)
    ).body.data[0] as { id: string };
  const offboard = (body: object, expected = 200) =>
    g
      .http()
      .post('/v1/credentials/revoke')
      .set(admin)
      .set('X-Request-Id', 'offboarding-request')
      .send(body)
      .expect(expected);
  const simState = () => s.admin.state();
  const qwietRevoked = async (id: string) =>
    (await simState()).qwiet.tokens.find((t) => t.id === id)?.revoked_at !== null;
  const octaneValid = async (id: string) =>
    (await simState()).octane.api_accesses.find((k) => k.id === id)?.is_valid;
  const recordsSince = async (n: number): Promise<AuditRecord[]> =>
    (await ledgerRecords(g.db.url)).slice(n);
  const ledgerLength = async () => (await ledgerRecords(g.db.url)).length;

  const stack = useStack((sim) => ({ POLICY_FILE: writePolicy(sharedPolicy(sim)) }));
  beforeAll(async () => {
    ({ s, g } = stack);
    [{ id: orgA }, { id: orgB }] = s.options.qwietOrgs;
    spaceB = s.options.octaneSpaces[1].id;
    admin = {
      Authorization: `Bearer ${await g.token({ sub: 'root', team: 'ops', roles: ['keygate:admin'] })}`,
    };
  });

  describe('offboarding', () => {
    it('is for admins (403 for a member or an auditor) and names a subject or a team (400)', async () => {
      for (const roles of [[], ['keygate:auditor']]) {
        const who = { Authorization: `Bearer ${await g.token({ sub: 'mallory', roles })}` };
        const res = await g
          .http()
          .post('/v1/credentials/revoke')
          .set(who)
          .send({ subject: 'alice' })
          .expect(403);
        expect(res.body.code).toBe('FORBIDDEN');
      }
      for (const body of [{}, { vendor: 'qwiet' }, { subject: '' }, { team: null }]) {
        const res = await offboard(body, 400);
        expect(res.body.code).toBe('VALIDATION_FAILED');
      }
    });

    it('dry run: lists every active credential of the subject across both vendors, changes nothing', async () => {
      const carol = await as('carol');
      const t1 = await issueToken(carol, orgA, 'carol-1');
      const t2 = await issueToken(carol, orgA, 'carol-2');
      const k1 = await createKey(carol, '1001', 'carol-k1');
      const k2 = await createKey(carol, '1001', 'carol-k2');
      await issueToken(await as('dave'), orgA, 'dave-1');
      const before = await ledgerLength();

      const res = await offboard({ subject: 'carol', dry_run: true });
      expect(res.body).toMatchObject({ dry_run: true, subject: 'carol', found: 4, revoked: 0 });
      expect(
        (res.body.credentials as Offboarded[]).map((c) => `${c.vendor}:${c.credential_id}`).sort(),
      ).toEqual([`qwiet:${t1.id}`, `qwiet:${t2.id}`, `octane:${k1.id}`, `octane:${k2.id}`].sort());
      expect(
        (res.body.credentials as Offboarded[]).every((c) => c.outcome === 'would_revoke'),
      ).toBe(true);
      expect(await recordsSince(before)).toEqual([]);
      expect(await qwietRevoked(t1.id)).toBe(false);
      expect(await octaneValid(k1.id)).toBe(true);
    });

    it('revokes each through the pipeline, audited; one vendor failing does not stop the others; a second call finishes the rest', async () => {
      const before = await ledgerLength();
      // The first Octane revocation fails at the vendor.
      await s.admin.fault({
        op: 'octane.api_accesses.update',
        kind: 'status',
        status: 500,
        times: 1,
      });
      const res = await offboard({ subject: 'carol' });
      expect(res.body).toMatchObject({
        dry_run: false,
        subject: 'carol',
        found: 4,
        revoked: 3,
        failed: 1,
      });
      const credentials = res.body.credentials as Offboarded[];
      const failed = credentials.filter((c) => c.outcome === 'failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ vendor: 'octane', status: 'active' });
      const revoked = credentials.filter((c) => c.outcome === 'revoked');
      expect(revoked.map((c) => c.vendor).sort()).toEqual(['octane', 'qwiet', 'qwiet']);
      for (const c of revoked) {
        expect(c.status).not.toBe('active');
        if (c.vendor === 'qwiet') expect(await qwietRevoked(c.credential_id)).toBe(true);
        else expect(await octaneValid(c.credential_id)).toBe(false);
      }
      expect(await octaneValid(failed[0].credential_id)).toBe(true);
      // Nobody else's: dave's token stays.
      const dave = (await simState()).qwiet.tokens.find((t) => t.label === 'dave-1');
      expect(dave?.revoked_at).toBeNull();

      // Each revocation is its own request in the ledger, decided and recorded like any, by the admin.
      const records = await recordsSince(before);
      for (const c of credentials) {
        const mine = records.filter((r) => r.request_id === c.request_id);
        expect(mine.map((r) => r.phase).slice(0, 2)).toEqual([
          'attempt',
          c.outcome === 'revoked' ? 'succeeded' : 'failed',
        ]);
        expect(mine[0]).toMatchObject({
          event: c.vendor === 'qwiet' ? 'qwiet.token.revoke' : 'octane.api_access.revoke',
          actor: { subject: 'root', team: 'ops' },
          caller_request_id: 'offboarding-request',
          target: { credential_id: c.credential_id },
        });
      }
      const done = records.filter((r) => r.event === 'offboarding.done');
      expect(done).toHaveLength(1);
      expect(done[0]).toMatchObject({
        phase: 'succeeded',
        actor: { subject: 'root', team: 'ops' },
        owner: { subject: 'carol', found: 4, revoked: 3, failed: 1 },
      });
      expect(records[records.length - 1].event).toBe('offboarding.done');

      // Called again: only what is still active, the one that failed.
      const again = await offboard({ subject: 'carol' });
      expect(again.body).toMatchObject({ found: 1, revoked: 1, failed: 0 });
      expect(again.body.credentials[0].credential_id).toBe(failed[0].credential_id);
      expect(await octaneValid(failed[0].credential_id)).toBe(false);
    });

    it('by team and vendor: only that team’s credentials of that vendor, four at a time', async () => {
      const erin = await as('erin', 'platform');
      const tokens = [];
      for (let i = 0; i < 6; i++)
        tokens.push(await issueToken(erin, i % 2 ? orgA : orgB, `erin-${i}`));
      const key = await createKey(erin, spaceB, 'erin-key');
      const mine = await issueToken(await as('frank'), orgA, 'frank-1');

      // Each revocation is held at Qwiet a while: the ledger shows how many were in flight at once.
      await s.admin.fault({
        op: 'qwiet.tokens.delete',
        kind: 'latency',
        latency_ms: 150,
        times: 6,
      });
      const before = await ledgerLength();
      const res = await offboard({ team: 'platform', vendor: 'qwiet' });
      expect(res.body).toMatchObject({
        team: 'platform',
        vendor: 'qwiet',
        found: 6,
        revoked: 6,
        failed: 0,
      });
      for (const t of tokens) expect(await qwietRevoked(t.id)).toBe(true);
      expect(await octaneValid(key.id)).toBe(true);
      expect(await qwietRevoked(mine.id)).toBe(false);
      let inFlight = 0;
      let most = 0;
      for (const r of await recordsSince(before)) {
        if (r.event !== 'qwiet.token.revoke') continue;
        inFlight += r.phase === 'attempt' ? 1 : -1;
        most = Math.max(most, inFlight);
      }
      expect(most).toBe(4);
    });
    it('an Octane revocation waits for a regeneration of the key in flight, so the key ends revoked', async () => {
      const ivan = await as('ivan');
      const key = await createKey(ivan, '1001', 'raced-offboarding');
      await s.admin.fault({
        op: 'octane.api_accesses.update',
        kind: 'latency',
        latency_ms: 300,
        times: 1,
      });
      const regeneration = g
        .http()
        .put(`/octane/api/shared_spaces/1001/api_accesses/${key.id}`)
        .set(ivan)
        .send({ is_valid: true })
        .then((r) => r.status);
      await until(async () =>
        s.sim.requestCount('octane.api_accesses.update') >= 1 ? true : undefined,
      );
      const res = await offboard({ subject: 'ivan', vendor: 'octane' });
      expect(res.body).toMatchObject({ found: 1, revoked: 1 });
      expect(await regeneration).toBe(200);
      expect(await octaneValid(key.id)).toBe(false);
    });
  });

  describe('offboarding a revocation the vendor ignored', () => {
    it('revokes again a credential left revoke_unverified (it still works at the vendor): someone leaving keeps nothing that works', async () => {
      const erin = await as('erin-left');
      const token = await issueToken(erin, orgA, 'erin-1');
      await s.admin.fault({ op: 'qwiet.tokens.delete', kind: 'revoke_ignored', times: 1 });
      const first = await g
        .http()
        .delete(`/qwiet/api/v4/orgs/${orgA}/tokens/${token.id}`)
        .set(erin)
        .expect(200);
      expect(first.headers['x-keygate-revocation']).toBe('unverified');
      expect(await qwietRevoked(token.id)).toBe(false);

      const dry = await offboard({ subject: 'erin-left', dry_run: true });
      expect(dry.body).toMatchObject({ found: 1 });
      const res = await offboard({ subject: 'erin-left' });
      expect(res.body).toMatchObject({ found: 1, revoked: 1, failed: 0 });
      expect((res.body.credentials as Offboarded[])[0]).toMatchObject({
        credential_id: token.id,
        outcome: 'revoked',
        status: 'revoked',
      });
      expect(await qwietRevoked(token.id)).toBe(true);
    });
  });

  describe('offboarding a row a database writer changed', () => {
    it('finds a credential by the subject its issuing ledger record names, even when the row names another', async () => {
      const frank = await as('frank-left');
      const token = await issueToken(frank, orgA, 'frank-1');
      await asDatabase(
        g.db.url,
        `UPDATE credentials SET subject = 'nobody' WHERE credential_id = '${token.id}'`,
      );
      const res = await offboard({ subject: 'frank-left' });
      expect(res.body).toMatchObject({ found: 1, revoked: 1, failed: 0 });
      expect((res.body.credentials as Offboarded[])[0]).toMatchObject({
        credential_id: token.id,
        outcome: 'revoked',
      });
      expect(await qwietRevoked(token.id)).toBe(true);
    });
  });

  describe('leaks', () => {
    it('revokes the credential of a leaked Qwiet token or Octane secret, records leak.revoked with its owner; the secret is never logged or stored', async () => {
      const grace = await as('grace');
      const token = await issueToken(grace, orgA, 'leaky');
      const secret = 'Leak@Secret-0042x';
      const key = await createKey(grace, '1001', 'leaky-key', secret);
      const before = await ledgerLength();

      const res = await g
        .http()
        .post('/v1/leaks')
        .set(admin)
        .send({ secret: token.value })
        .expect(200);
      expect(res.body.fingerprint).toBe(fingerprint(TEST_AUDIT_KEY, token.value));
      expect(res.body.credentials).toEqual([
        expect.objectContaining({
          vendor: 'qwiet',
          scope: orgA,
          credential_id: token.id,
          owner_team: 'payments',
          subject: 'grace',
          outcome: 'revoked',
        }),
      ]);
      expect(await qwietRevoked(token.id)).toBe(true);

      const octane = await g.http().post('/v1/leaks').set(admin).send({ secret }).expect(200);
      expect(octane.body.credentials[0]).toMatchObject({
        vendor: 'octane',
        credential_id: key.id,
        outcome: 'revoked',
      });
      expect(await octaneValid(key.id)).toBe(false);

      const records = await recordsSince(before);
      const revoked = records.filter((r) => r.event === 'leak.revoked');
      expect(revoked).toHaveLength(2);
      expect(revoked[0]).toMatchObject({
        phase: 'succeeded',
        actor: { subject: 'root' },
        target: { vendor: 'qwiet', org_id: orgA, credential_id: token.id, owner_team: 'payments' },
        owner: { subject: 'grace', team: 'payments' },
        fingerprint: fingerprint(TEST_AUDIT_KEY, token.value),
      });
      expect(records.filter((r) => r.event === 'leak.lookup')).toHaveLength(2);
      expect(records.filter((r) => r.event === 'qwiet.token.revoke').map((r) => r.phase)).toEqual(
        expect.arrayContaining(['attempt', 'succeeded']),
      );

      // Leaked again: already revoked, nothing more to do.
      const twice = await g.http().post('/v1/leaks').set(admin).send({ secret }).expect(200);
      expect(twice.body.credentials[0].outcome).toBe('already_inactive');

      const logs = g.logs.text();
      const stored = await storedText(g.db.url);
      for (const value of [token.value, secret]) {
        expect(logs).not.toContain(value);
        expect(stored).not.toContain(value);
      }
    });

    it('a credential found but not revoked at the vendor is a 502 REVOCATION_FAILED, without leak.revoked; asked again, it is revoked', async () => {
      const token = await issueToken(await as('heidi'), orgA, 'leaky-2');
      await s.admin.fault({ op: 'qwiet.tokens.delete', kind: 'status', status: 500, times: 1 });
      const before = await ledgerLength();
      const res = await g
        .http()
        .post('/v1/leaks')
        .set(admin)
        .send({ secret: token.value })
        .expect(502);
      expect(res.body).toMatchObject({
        code: 'REVOCATION_FAILED',
        fingerprint: fingerprint(TEST_AUDIT_KEY, token.value),
        credentials: [{ credential_id: token.id, outcome: 'failed', status: 'active' }],
      });
      expect(JSON.stringify(res.body)).not.toContain(token.value);
      expect(await qwietRevoked(token.id)).toBe(false);
      const events = (await recordsSince(before)).map((r) => r.event);
      expect(events).toContain('leak.lookup');
      expect(events).not.toContain('leak.revoked');

      const again = await g
        .http()
        .post('/v1/leaks')
        .set(admin)
        .send({ secret: token.value })
        .expect(200);
      expect(again.body.credentials[0].outcome).toBe('revoked');
      expect(await qwietRevoked(token.id)).toBe(true);
    });

    it('an unknown secret is a 404 that leaves a leak.lookup record (its fingerprint, never the secret)', async () => {
      const before = await ledgerLength();
      const unknown = 'never-issued-by-keygate-0123456789';
      const res = await g.http().post('/v1/leaks').set(admin).send({ secret: unknown }).expect(404);
      expect(res.body).toMatchObject({
        code: 'NOT_FOUND',
        fingerprint: fingerprint(TEST_AUDIT_KEY, unknown),
      });
      const records = await recordsSince(before);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        event: 'leak.lookup',
        phase: 'succeeded',
        actor: { subject: 'root' },
        fingerprint: fingerprint(TEST_AUDIT_KEY, unknown),
      });
      expect(JSON.stringify(records)).not.toContain(unknown);
      expect(g.logs.text()).not.toContain(unknown);
      expect(await storedText(g.db.url)).not.toContain(unknown);
    });

    it('is for admins only', async () => {
      const res = await g
        .http()
        .post('/v1/leaks')
        .set(await as('mallory'))
        .send({ secret: 'whatever-1234' })
        .expect(403);
      expect(res.body.code).toBe('FORBIDDEN');
    });
  });
});
