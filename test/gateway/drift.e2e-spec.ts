import { Client } from 'pg';
import type { AuditRecord } from '@app/audit';
import type { PassSummary } from '../../apps/gateway/src/drift/drift.types';
import {
  scopeOnlyPolicy,
  startGateway,
  StartedGateway,
  StartedSimulator,
  useStack,
  writePolicy,
} from '../support/gateway';
import { ledgerRecords } from '../support/db';
import { until } from '../support/until';

const CI_ROLE = '66ad5168-41be-4b6c-9ac5-a30b02229c35';
const STRONG = '9011@83sd!f1042ds+f19fg86M';
const ADMIN = { team: 'platform', sub: 'ada', roles: ['keygate:admin'] };

interface Row {
  credential_id: string;
  status: string;
  last_checked_at: Date | null;
}

/** The inventory as the database has it (vendor, scope, id -> row). */
async function inventory(g: StartedGateway): Promise<Map<string, Row>> {
  const client = new Client({ connectionString: g.db.url });
  await client.connect();
  try {
    const { rows } = await client.query<Row & { vendor: string; scope: string }>(
      'SELECT vendor, scope, credential_id, status, last_checked_at FROM credentials',
    );
    return new Map(rows.map((r) => [`${r.vendor}/${r.scope}/${r.credential_id}`, r]));
  } finally {
    await client.end();
  }
}

/** What a test does at the vendors, and through Keygate. */
function driver(stack: { s: StartedSimulator; g: StartedGateway }) {
  const orgA = () => stack.s.options.qwietOrgs[0].id;
  const orgB = () => stack.s.options.qwietOrgs[1].id;
  const sim = () => stack.s.http();
  const bearer = async (claims?: Parameters<StartedGateway['token']>[0]) => ({
    Authorization: `Bearer ${await stack.g.token(claims)}`,
  });
  return {
    orgA,
    orgB,
    /** A Qwiet token issued through Keygate (team payments, org A). */
    issueToken: async (label: string, org = orgA()) => {
      const answer = await stack.g
        .http()
        .post(`/qwiet/api/v4/orgs/${org}/tokens`)
        .set(await bearer(org === orgA() ? {} : { team: 'platform', sub: 'bob' }))
        .send({ label, role_id: CI_ROLE, token_type: 'access', valid_for_seconds: 86_400 })
        .expect(200);
      return String(answer.body.response.id);
    },
    /** An Octane key created through Keygate (team payments, shared space 1001). */
    createKey: async (name: string) => {
      const answer = await stack.g
        .http()
        .post('/octane/api/shared_spaces/1001/api_accesses')
        .set(await bearer())
        .send({ data: [{ name, client_secret: STRONG }] })
        .expect(201);
      return String(answer.body.data[0].id);
    },
    /** Behind Keygate's back, at the vendor (the simulator's admin surface). */
    behind: {
      token: async (label: string, org = orgA()) =>
        String(
          (await sim().post(`/__sim/qwiet/orgs/${org}/tokens`).send({ label }).expect(201)).body.id,
        ),
      revokeToken: (id: string, org = orgA()) =>
        sim().delete(`/__sim/qwiet/orgs/${org}/tokens/${id}`).expect(200),
      expireToken: (id: string, org = orgA()) =>
        sim().post(`/__sim/qwiet/orgs/${org}/tokens/${id}/expire`).expect(200),
      key: async (name: string, space = '1001') =>
        String(
          (
            await sim()
              .post(`/__sim/octane/shared_spaces/${space}/api_accesses`)
              .send({ name })
              .expect(201)
          ).body.id,
        ),
      revokeKey: (id: string, space = '1001') =>
        sim().post(`/__sim/octane/shared_spaces/${space}/api_accesses/${id}/revoke`).expect(200),
      expireKey: (id: string, space = '1001') =>
        sim().post(`/__sim/octane/shared_spaces/${space}/api_accesses/${id}/expire`).expect(200),
    },
    reconcile: async (): Promise<{ seq: number; pass: PassSummary }> =>
      (
        await stack.g
          .http()
          .post('/v1/reconcile')
          .set(await bearer(ADMIN))
          .expect(200)
      ).body,
    scope: (pass: PassSummary, vendor: string, scope: string) =>
      pass.scopes.find((x) => x.vendor === vendor && x.scope === scope)!,
    /** The records a pass wrote, and those of the revocations it asked for. */
    recordsOf: async (pass: PassSummary): Promise<AuditRecord[]> =>
      (await ledgerRecords(stack.g.db.url)).filter(
        (r) => r.request_id === pass.pass_id || r.caller_request_id === pass.pass_id,
      ),
    bearer,
  };
}

const simOpts = { requireTechPreview: false };

describe('gateway: drift, policy drift.unknown = report', () => {
  const stack = useStack({}, simOpts, { clock: 'simulator', database: 'own' });
  const d = driver(stack);

  it('finds each kind of drift once: unknown credentials reported, gone/invalid/expired credentials marked, last check recorded', async () => {
    const { s, g } = stack;
    // Through Keygate: two tokens and two keys. Behind its back: one of each revoked, one of
    // each expired, one token and one key created.
    const [t1, t2, t3] = [
      await d.issueToken('ci-1'),
      await d.issueToken('ci-2'),
      await d.issueToken('ci-3'),
    ];
    const [k1, k2, k3] = [
      await d.createKey('keyone'),
      await d.createKey('keytwo'),
      await d.createKey('keythree'),
    ];
    const u1 = await d.behind.token('made-at-qwiet');
    const uk1 = await d.behind.key('madeatoctane');
    await d.behind.revokeToken(t1);
    await d.behind.expireToken(t2);
    await d.behind.revokeKey(k1);
    await d.behind.expireKey(k2);
    // The simulator seeds a service-account token in each org: Keygate never issued it either.
    const serviceTokens = (await s.admin.state()).qwiet.tokens.filter(
      (t) => t.seeded && t.label === 'Service account',
    );
    await s.admin.advanceClock(1);

    const first = await d.reconcile();
    const pass = first.pass;
    expect(pass.trigger).toBe('request');
    expect(pass.requested_by).toEqual({ subject: 'ada', team: 'platform' });
    expect(pass.errors).toEqual([]);
    expect(pass.totals).toMatchObject({ unknown: 4, revoked: 0, revoked_outside: 2, expired: 2 });
    expect(d.scope(pass, 'qwiet', d.orgA())).toMatchObject({
      complete: true,
      unknown: 2,
      revoked_outside: 1,
      expired: 1,
      checked: 2,
    });
    expect(d.scope(pass, 'octane', '1001')).toMatchObject({
      complete: true,
      unknown: 1,
      revoked_outside: 1,
      expired: 1,
      checked: 3,
    });
    expect(d.scope(pass, 'qwiet', d.orgB())).toMatchObject({ unknown: 1, revoked_outside: 0 });
    expect(d.scope(pass, 'octane', '2001')).toMatchObject({ unknown: 0, listed: 1 });

    const records = await d.recordsOf(pass);
    const by = (event: string) =>
      records
        .filter((r) => r.event === event)
        .map((r) => r.target.credential_id)
        .sort();
    expect(by('drift.unknown_credential')).toEqual(
      [u1, uk1, ...serviceTokens.map((t) => t.id)].sort(),
    );
    expect(by('drift.revoked_outside')).toEqual([t1, k1].sort());
    expect(by('credential.expired')).toEqual([t2, k2].sort());
    const unknown = records.find((r) => r.target.credential_id === u1)!;
    expect(unknown).toMatchObject({
      phase: 'succeeded',
      actor: { subject: 'keygate', team: 'keygate' },
      target: { vendor: 'qwiet', org_id: d.orgA(), label: 'made-at-qwiet' },
    });
    expect(unknown.note).toMatch(/drift\.unknown: report/);
    expect(records.find((r) => r.target.credential_id === uk1)!.target).toMatchObject({
      vendor: 'octane',
      shared_space_id: '1001',
      name: 'madeatoctane',
    });
    // Keygate's own credentials are never unknown.
    const own = (await s.admin.state()).qwiet.tokens.filter((t) => t.label === 'Keygate gateway');
    expect(records.some((r) => own.some((t) => t.id === r.target.credential_id))).toBe(false);
    // One summary record, with the counts.
    const summary = records.filter((r) => r.event === 'drift.pass');
    expect(summary).toHaveLength(1);
    expect((summary[0] as AuditRecord & { drift: PassSummary }).drift.totals.unknown).toBe(4);

    // The statuses followed the records; what the pass saw has its last check.
    const rows = await inventory(g);
    const row = (vendor: string, scope: string, id: string) =>
      rows.get(`${vendor}/${scope}/${id}`)!;
    expect(row('qwiet', d.orgA(), t1).status).toBe('revoked_outside');
    expect(row('qwiet', d.orgA(), t2).status).toBe('expired');
    expect(row('qwiet', d.orgA(), t3).status).toBe('active');
    expect(row('octane', '1001', k1).status).toBe('revoked_outside');
    expect(row('octane', '1001', k2).status).toBe('expired');
    expect(row('octane', '1001', k3).status).toBe('active');
    const now = Date.parse(pass.started_at);
    for (const [vendor, scope, id] of [
      ['qwiet', d.orgA(), t3],
      ['octane', '1001', k3],
    ]) {
      expect(row(vendor, scope, id).last_checked_at!.getTime()).toBeGreaterThanOrEqual(now);
    }
    // Reported, not revoked: still there at the vendors.
    const state = await s.admin.state();
    expect(state.qwiet.tokens.find((t) => t.id === u1)!.revoked_at).toBeNull();
    expect(state.octane.api_accesses.find((a) => a.id === uk1)!.is_valid).toBe(true);

    // The second pass reports nothing again.
    const second = (await d.reconcile()).pass;
    expect(second.totals).toMatchObject({ unknown: 0, revoked_outside: 0, expired: 0 });
    expect(d.scope(second, 'qwiet', d.orgA()).unknown_again).toBe(2);
    expect(d.scope(second, 'octane', '1001').unknown_again).toBe(1);
    expect((await d.recordsOf(second)).map((r) => r.event)).toEqual(['drift.pass']);
    const all = await ledgerRecords(g.db.url);
    expect(all.filter((r) => r.event === 'drift.unknown_credential')).toHaveLength(4);
  });

  it('GET /v1/drift: the last passes with what each found, newest first, in keyset pages; admin, security and auditor only', async () => {
    const { g } = stack;
    const auditor = await d.bearer({ team: 'audit', sub: 'audrey', roles: ['keygate:auditor'] });
    const page = await g.http().get('/v1/drift?limit=1').set(auditor).expect(200);
    expect(page.body.passes).toHaveLength(1);
    const [latest] = page.body.passes;
    expect(latest.pass.totals.unknown).toBe(0);
    expect(latest.findings).toEqual([]);
    const older = await g
      .http()
      .get(`/v1/drift?limit=1&before_seq=${page.body.next_before_seq}`)
      .set(await d.bearer({ team: 'sec', sub: 'sam', roles: ['keygate:security'] }))
      .expect(200);
    expect(older.body.passes[0].seq).toBeLessThan(latest.seq);
    expect(older.body.passes[0].findings.map((r: AuditRecord) => r.event).sort()).toEqual([
      'credential.expired',
      'credential.expired',
      'drift.revoked_outside',
      'drift.revoked_outside',
      'drift.unknown_credential',
      'drift.unknown_credential',
      'drift.unknown_credential',
      'drift.unknown_credential',
    ]);
    // Each read is recorded, as auditors' reads of the ledger are.
    const reads = (await ledgerRecords(g.db.url)).filter(
      (r) => r.event === 'audit.read' && r.actor.subject === 'audrey',
    );
    expect(reads.map((r) => (r as AuditRecord & { read: unknown }).read)).toEqual([
      { kind: 'query', filters: { route: '/v1/drift', limit: 1 }, records: 1 },
    ]);
    const member = await d.bearer();
    expect((await g.http().get('/v1/drift').set(member).expect(403)).body.code).toBe('FORBIDDEN');
    expect((await g.http().post('/v1/reconcile').set(member).expect(403)).body.code).toBe(
      'FORBIDDEN',
    );
    await g.http().post('/v1/reconcile').set(auditor).expect(403);
    await g.http().get('/v1/drift?limit=0').set(auditor).expect(400);
    await g.http().get('/v1/drift').expect(401);
    // Both routes are in the OpenAPI document, with the page parameters.
    const doc = (await g.http().get('/docs-json').expect(200)).body;
    expect(Object.keys(doc.paths['/v1/reconcile'])).toEqual(['post']);
    expect(
      doc.paths['/v1/drift'].get.parameters.map((p: { name: string }) => p.name).sort(),
    ).toEqual(['before_seq', 'limit']);
  });
});

describe('gateway: drift, policy drift.unknown = revoke', () => {
  const stack = useStack(
    (s) => ({
      POLICY_FILE: writePolicy(scopeOnlyPolicy(s, 'rules:\n  drift: { unknown: revoke }')),
    }),
    simOpts,
    { clock: 'simulator', database: 'own' },
  );
  const d = driver(stack);

  it('revokes what Keygate never issued through the issuance pipeline (actor keygate, audited), never its own, once', async () => {
    const { s, g } = stack;
    const mine = await d.issueToken('ci-kept');
    const u2 = await d.behind.token('made-at-qwiet-2');
    const uk2 = await d.behind.key('madeatoctanetwo');

    const pass = (await d.reconcile()).pass;
    expect(pass.errors).toEqual([]);
    // u2 and the service tokens of both orgs; uk2.
    expect(pass.totals).toMatchObject({ unknown: 4, revoked: 4 });
    const revoked = pass.revocations.find((r) => r.credential_id === u2)!;
    expect(revoked).toMatchObject({ vendor: 'qwiet', scope: d.orgA(), status: 200 });
    expect(pass.revocations.find((r) => r.credential_id === uk2)).toMatchObject({
      vendor: 'octane',
      scope: '1001',
      status: 200,
    });

    const state = await s.admin.state();
    expect(state.qwiet.tokens.find((t) => t.id === u2)!.revoked_at).not.toBeNull();
    expect(state.octane.api_accesses.find((a) => a.id === uk2)!.is_valid).toBe(false);
    // Keygate's own credentials and what it issued are untouched.
    expect(state.qwiet.tokens.find((t) => t.id === mine)!.revoked_at).toBeNull();
    for (const t of state.qwiet.tokens.filter((x) => x.label === 'Keygate gateway'))
      expect(t.revoked_at).toBeNull();
    for (const a of state.octane.api_accesses.filter((x) => x.seeded))
      expect(a.is_valid).toBe(true);

    // Audited like any revocation: attempt and outcome, decided by the policy, actor keygate.
    const records = await d.recordsOf(pass);
    const revocation = records.filter((r) => r.request_id === revoked.request_id);
    expect(revocation.map((r) => [r.event, r.phase])).toEqual(
      expect.arrayContaining([
        ['qwiet.token.revoke', 'attempt'],
        ['qwiet.token.revoke', 'succeeded'],
      ]),
    );
    expect(revocation[0]).toMatchObject({
      actor: { subject: 'keygate', team: 'keygate' },
      caller_request_id: pass.pass_id,
      decision: { allowed: true },
      target: { vendor: 'qwiet', org_id: d.orgA(), credential_id: u2 },
    });
    // Reported first, then revoked.
    const report = records.find(
      (r) => r.event === 'drift.unknown_credential' && r.target.credential_id === u2,
    )!;
    expect(report.note).toMatch(/drift\.unknown: revoke/);
    expect(report.seq).toBeLessThan(revocation[0].seq);

    // The second pass finds nothing new and revokes nothing more.
    const second = (await d.reconcile()).pass;
    expect(second.totals).toMatchObject({ unknown: 0, revoked: 0 });
    expect(second.revocations).toEqual([]);
    const all = await ledgerRecords(g.db.url);
    expect(all.filter((r) => r.event === 'drift.unknown_credential')).toHaveLength(4);
    expect(
      all.filter((r) => r.event === 'qwiet.token.revoke' && r.phase === 'succeeded'),
    ).toHaveLength(3);
  });
});

describe('gateway: drift, a vendor failing mid-pass', () => {
  const stack = useStack({}, simOpts, { clock: 'simulator', database: 'own' });
  const d = driver(stack);

  it('changes nothing in a scope whose list failed, and judges nothing "gone" on a partial list', async () => {
    const { s, g } = stack;
    // Org A: one token kept, one revoked behind the back. Shared space 1001: a key revoked behind
    // the back (page 1), then 100 keys created there, then a key through Keygate (page 2).
    const kept = await d.issueToken('ci-kept');
    const gone = await d.issueToken('ci-gone');
    await d.behind.revokeToken(gone);
    const early = await d.createKey('earlykey');
    await d.behind.revokeKey(early);
    for (let i = 0; i < 100; i++) await d.behind.key(`bulk${String(i).padStart(3, '0')}`);
    const late = await d.createKey('latekey');

    // Qwiet fails on org A's list (the first list of the pass; a 500 is not retried); Octane's
    // second page of 1001 fails. The simulator takes faults in the order given: the first Octane
    // list (page 1 of 1001) meets a fault that changes nothing, the second (page 2) the 500.
    await s.admin.fault({ op: 'qwiet.tokens.list', kind: 'status', status: 500, times: 1 });
    await s.admin.fault({
      op: 'octane.api_accesses.list',
      kind: 'latency',
      latency_ms: 0,
      times: 1,
    });
    await s.admin.fault({ op: 'octane.api_accesses.list', kind: 'status', status: 500, times: 1 });
    const pass = (await d.reconcile()).pass;

    expect(pass.errors).toEqual([
      { vendor: 'qwiet', scope: d.orgA(), error: expect.stringMatching(/500|server/) },
      { vendor: 'octane', scope: '1001', error: expect.stringMatching(/page 2: read in part/) },
    ]);
    expect(d.scope(pass, 'qwiet', d.orgA())).toMatchObject({ complete: false, listed: 0 });
    expect(d.scope(pass, 'qwiet', d.orgB())).toMatchObject({ complete: true });
    expect(d.scope(pass, 'octane', '1001')).toMatchObject({
      complete: false,
      listed: 100,
      revoked_outside: 1,
    });
    const rows = await inventory(g);
    // Org A was not seen: neither token changed (the revoked one is not judged gone).
    expect(rows.get(`qwiet/${d.orgA()}/${gone}`)!.status).toBe('active');
    expect(rows.get(`qwiet/${d.orgA()}/${kept}`)!.last_checked_at).toBeNull();
    // 1001's first page was seen (the revoked key found invalid); its second was not, and the key
    // there is not taken for gone.
    expect(rows.get(`octane/1001/${early}`)!.status).toBe('revoked_outside');
    expect(rows.get(`octane/1001/${late}`)!.status).toBe('active');
    expect(rows.get(`octane/1001/${late}`)!.last_checked_at).toBeNull();
    // Page 1: Keygate's own key, the early key and 98 of the unknown keys, reported; page 2 (the
    // other 2, and the late key) was not seen.
    expect(d.scope(pass, 'octane', '1001').unknown).toBe(98);

    // The vendors answer again: the next pass sees all and judges the rest.
    await s.sim.faults.clear();
    const next = (await d.reconcile()).pass;
    expect(next.errors).toEqual([]);
    expect(d.scope(next, 'qwiet', d.orgA())).toMatchObject({ complete: true, revoked_outside: 1 });
    expect(d.scope(next, 'octane', '1001')).toMatchObject({ complete: true, unknown: 2 });
    const after = await inventory(g);
    expect(after.get(`qwiet/${d.orgA()}/${gone}`)!.status).toBe('revoked_outside');
    expect(after.get(`qwiet/${d.orgA()}/${kept}`)!.status).toBe('active');
    expect(after.get(`octane/1001/${late}`)!.status).toBe('active');
    expect(after.get(`octane/1001/${late}`)!.last_checked_at).not.toBeNull();
  });
});

describe("gateway: drift, a change of Keygate's still unsettled", () => {
  const stack = useStack({}, simOpts, { clock: 'simulator', database: 'own' });
  const d = driver(stack);

  it('leaves a credential whose revocation through Keygate has no settled outcome to a later pass', async () => {
    const { s, g } = stack;
    const token = await d.issueToken('ci-pending');
    // Keygate's revocation reaches Qwiet and gets no answer (timed out: Qwiet may have acted) ...
    await s.admin.fault({ op: 'qwiet.tokens.delete', kind: 'hang', times: 1 });
    await g
      .http()
      .delete(`/qwiet/api/v4/orgs/${d.orgA()}/tokens/${token}`)
      .set(await d.bearer())
      .expect(504);
    // ... and the token is gone at Qwiet: by that revocation or another, nobody can tell yet.
    await d.behind.revokeToken(token);
    const pass = (await d.reconcile()).pass;
    expect(d.scope(pass, 'qwiet', d.orgA())).toMatchObject({
      complete: true,
      revoked_outside: 0,
      in_flight: 1,
    });
    expect((await inventory(g)).get(`qwiet/${d.orgA()}/${token}`)!.status).toBe('active');
    expect((await d.recordsOf(pass)).some((r) => r.target.credential_id === token)).toBe(false);
  });
});

describe('gateway: drift, one pass at a time across instances, and on schedule', () => {
  // A list may take 10 s here: the pass below is held 3 s at the vendor while two more are asked for.
  const stack = useStack({ RECONCILE_INTERVAL: '5m', UPSTREAM_TIMEOUT_MS: '10000' }, simOpts, {
    clock: 'simulator',
    database: 'own',
  });
  const d = driver(stack);
  let other: StartedGateway;
  beforeAll(async () => {
    other = await startGateway(stack.s, { DATABASE_URL: stack.g.db.url }, { clock: 'simulator' });
  });
  afterAll(() => other?.close());

  it('two gateways asked at once: one runs the pass, the other answers that one is in progress', async () => {
    const { s, g } = stack;
    const admin = await d.bearer(ADMIN);
    const lists = (await s.admin.state()).requests['qwiet.tokens.list'] ?? 0;
    // The first list of the pass is slowed, so the pass is seen under way.
    await s.admin.fault({ op: 'qwiet.tokens.list', kind: 'latency', latency_ms: 3_000, times: 1 });
    const first = g.http().post('/v1/reconcile').set(admin);
    const running = first.then((r) => r);
    await until(async () =>
      ((await s.admin.state()).requests['qwiet.tokens.list'] ?? 0) > lists ? true : undefined,
    );
    const busy = await other.http().post('/v1/reconcile').set(admin).expect(409);
    expect(busy.body).toMatchObject({ code: 'RECONCILE_IN_PROGRESS' });
    const same = await g.http().post('/v1/reconcile').set(admin).expect(409);
    expect(same.body.code).toBe('RECONCILE_IN_PROGRESS');
    expect((await running).status).toBe(200);
    // Once it is done, the other instance runs one.
    const next = await other.http().post('/v1/reconcile').set(admin).expect(200);
    expect(next.body.pass.errors).toEqual([]);
    const passes = (await ledgerRecords(g.db.url)).filter((r) => r.event === 'drift.pass');
    expect(passes).toHaveLength(2);
  });

  it('runs a pass every RECONCILE_INTERVAL on the clock', async () => {
    const { s, g } = stack;
    const before = (await ledgerRecords(g.db.url)).filter((r) => r.event === 'drift.pass').length;
    await s.admin.advanceClock(5 * 60 + 1);
    const scheduled = await until(async () => {
      const passes = (await ledgerRecords(g.db.url)).filter((r) => r.event === 'drift.pass');
      return passes.length > before ? passes : undefined;
    });
    const last = scheduled[scheduled.length - 1] as AuditRecord & { drift: PassSummary };
    expect(last.drift.trigger).toBe('schedule');
    expect(last.drift.requested_by).toBeUndefined();
  });
});

describe('gateway: drift, a vendor answering a hostile list', () => {
  const stack = useStack({}, simOpts, { clock: 'simulator', database: 'own' });
  const d = driver(stack);

  it('records one finding per id however often it is listed, skips entries without a usable id, and judges nothing "gone" on such a list', async () => {
    const { s, g } = stack;
    const kept = await d.issueToken('ci-kept');
    const unknown = await d.behind.token('made-at-qwiet');
    // Org A's list (the pass's first): the unknown token three times (in other cases too), entries
    // with no id, a null, an object, an empty, a control character, a 5,000-character id; Keygate's
    // own token and `kept` are not in it.
    const token = { id: unknown, label: 'made-at-qwiet', token_type: 'access' };
    await s.admin.fault({
      op: 'qwiet.tokens.list',
      kind: 'status',
      status: 200,
      times: 1,
      body: {
        response: [
          token,
          token,
          { ...token, id: unknown.toUpperCase() },
          { label: 'no id' },
          { id: null },
          { id: { $gt: '' } },
          { id: '' },
          { id: 'bad\nid' },
          { id: 'x'.repeat(5000) },
        ],
      },
    });
    const pass = (await d.reconcile()).pass;
    const orgA = d.scope(pass, 'qwiet', d.orgA());
    expect(orgA).toMatchObject({ complete: false, unknown: 1, revoked_outside: 0 });
    expect(orgA.error).toMatch(/6 entries without a usable id/);
    const records = (await d.recordsOf(pass)).filter(
      (r) => r.event !== 'drift.pass' && r.target.org_id === d.orgA(),
    );
    expect(records.map((r) => [r.event, r.target.credential_id])).toEqual([
      ['drift.unknown_credential', unknown],
    ]);
    // Not listed, but the list was not read whole: not judged gone.
    expect((await inventory(g)).get(`qwiet/${d.orgA()}/${kept}`)!.status).toBe('active');
  });
  it('takes an Octane page longer than asked for as hostile: the page is not used and the list is partial', async () => {
    const { s, g } = stack;
    const kept = await d.createKey('keptkey');
    // 5,000 keys on the first page of 1001 where 100 were asked for, none of them Keygate's.
    await s.admin.fault({
      op: 'octane.api_accesses.list',
      kind: 'status',
      status: 200,
      times: 1,
      body: {
        total_count: 5000,
        data: Array.from({ length: 5000 }, (_, i) => ({
          type: 'api_access',
          id: String(900000 + i),
          name: `flood${i}`,
          is_valid: true,
        })),
      },
    });
    const pass = (await d.reconcile()).pass;
    const space = d.scope(pass, 'octane', '1001');
    expect(space).toMatchObject({ complete: false, listed: 0, unknown: 0, revoked_outside: 0 });
    expect(space.error).toMatch(/5000 entries where 100 were asked for/);
    expect((await inventory(g)).get(`octane/1001/${kept}`)!.status).toBe('active');
  });
});
