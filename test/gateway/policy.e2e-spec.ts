import { once } from 'node:events';
import {
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { asServer, terminateGatewaySessions } from '../support/db';
import { CI_ROLE_ID, JIRA_ROLE_ID } from '@app/upstream-sim';
import { PolicyStore } from '../../apps/gateway/src/policy/policy.store';
import {
  scopeOnlyPolicy,
  startGateway,
  StartedGateway,
  StartedSimulator,
  useStack,
  writePolicy,
} from '../support/gateway';

/**
 * A policy file laid out as a Kubernetes ConfigMap volume: `policy.yaml -> ..data/policy.yaml`,
 * `..data -> ..<timestamp>/`; `publish` writes a new timestamped folder, renames a new `..data`
 * link over the old one and removes the old folder, as the kubelet does.
 */
function configMapPolicy(text: string): { file: string; publish: (text: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-configmap-'));
  let version = 0;
  const write = (content: string) => {
    const stamp = `..2026_11_30_10_00_0${version++}.${process.pid}`;
    mkdirSync(join(dir, stamp));
    writeFileSync(join(dir, stamp, 'policy.yaml'), content);
    symlinkSync(stamp, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  write(text);
  symlinkSync('..data/policy.yaml', join(dir, 'policy.yaml'));
  return {
    file: join(dir, 'policy.yaml'),
    publish: (content) => {
      const old = readlinkSync(join(dir, '..data'));
      write(content);
      rmSync(join(dir, old), { recursive: true });
    },
  };
}

/** The store's next event of that name; a store that never emits it fails the test in 5 s. */
const next = (store: PolicyStore, event: 'reloaded' | 'rejected') =>
  once(store, event, { signal: AbortSignal.timeout(5000) });

const RULES = `rules:
  qwiet:
    max_lifetime: { max_seconds: 3600 }
    lifetime_required: {}
    allowed_roles: { role_ids: [${CI_ROLE_ID}, ${JIRA_ROLE_ID}] }
    label_pattern: { pattern: '^ci-', mode: dry_run }
  octane:
    max_expiration: { max_days: 30, on_exceed: clamp }
    expiration_required: {}
    secret_strength: { min_length: 16, min_classes: 4, forbid_name: true, forbid_common: true }
  revocation:
    other_team: {}`;

describe('gateway: the token policy, enforced before any vendor call', () => {
  let s: StartedSimulator;
  let g: StartedGateway;
  let policyFile: string;
  let orgId: string;
  let alice: { Authorization: string };
  let bob: { Authorization: string };
  let admin: { Authorization: string };
  let security: { Authorization: string };
  let auditor: { Authorization: string };
  const tokens = () => `/qwiet/api/v4/orgs/${orgId}/tokens`;
  const keys = '/octane/api/shared_spaces/1001/api_accesses';
  const issued = async () => (await s.admin.state()).qwiet.tokens.filter((t) => !t.seeded);
  const signIn = (client_id: string, client_secret: string) =>
    s.http().post('/authentication/sign_in').send({ client_id, client_secret });

  const stack = useStack((sim) => {
    policyFile = writePolicy(
      scopeOnlyPolicy(sim, RULES)
        .replace(
          'platform: { qwiet_orgs: [',
          `platform: { qwiet_orgs: [${sim.options.qwietOrgs[0].id}, `,
        )
        .replace("octane_shared_spaces: ['2001']", "octane_shared_spaces: ['1001', '2001']"),
    );
    return { POLICY_FILE: policyFile };
  });
  beforeAll(async () => {
    ({ s, g } = stack);
    orgId = s.options.qwietOrgs[0].id;
    alice = { Authorization: `Bearer ${await g.token({ team: 'payments', sub: 'alice' })}` };
    bob = { Authorization: `Bearer ${await g.token({ team: 'platform', sub: 'bob' })}` };
    admin = {
      Authorization: `Bearer ${await g.token({ team: 'platform', sub: 'root', roles: ['keygate:admin'] })}`,
    };
    security = {
      Authorization: `Bearer ${await g.token({ team: 'secops', sub: 'sam', roles: ['keygate:security'] })}`,
    };
    auditor = {
      Authorization: `Bearer ${await g.token({ team: 'audit', sub: 'ada', roles: ['keygate:auditor'] })}`,
    };
  });
  beforeEach(() => s.admin.reset());

  it('denies with 403 POLICY_VIOLATION naming each rule, its limit and the value sent; Qwiet never hears of it', async () => {
    const res = await g
      .http()
      .post(tokens())
      .set(alice)
      .send({
        label: 'ci-x',
        role_id: 'e7ca42af-8dd5-4928-8eb9-28d5e41b5564',
        valid_for_seconds: 7200,
      })
      .expect(403);
    expect(res.body).toMatchObject({
      ok: false,
      code: 'POLICY_VIOLATION',
      violations: [
        { rule: 'qwiet.allowed_roles', actual: 'e7ca42af-8dd5-4928-8eb9-28d5e41b5564' },
        { rule: 'qwiet.max_lifetime', limit: 3600, actual: 7200 },
      ],
      policy_revision: expect.stringMatching(/^sha256:/),
    });
    expect(res.body.validation_errors).toEqual([
      expect.stringMatching(/^qwiet\.allowed_roles: /),
      expect.stringMatching(
        /^qwiet\.max_lifetime: valid_for_seconds exceeds the cap of 3600 \(limit: 3600; sent: 7200\)$/,
      ),
    ]);
    expect((await s.admin.state()).requests['qwiet.tokens.create']).toBeUndefined();
  });

  it('allows what the policy allows, with dry-run findings as warnings in a header', async () => {
    const res = await g
      .http()
      .post(tokens())
      .set(alice)
      .send({ label: 'build', role_id: CI_ROLE_ID, token_type: 'access', valid_for_seconds: 3600 })
      .expect(200);
    expect(res.headers['x-keygate-policy-warnings']).toMatch(/^qwiet\.label_pattern: /);
    expect(res.headers['x-keygate-policy-revision']).toMatch(/^sha256:/);
    expect(await issued()).toHaveLength(1);
  });

  it('answers Octane callers in the Octane envelope, and clamps an over-long expiration with a warning', async () => {
    const denied = await g
      .http()
      .post(keys)
      .set(alice)
      .send({ data: [{ name: 'weak', client_secret: 'Password' }] })
      .expect(403);
    expect(denied.body).toMatchObject({
      error_code: 'POLICY_VIOLATION',
      properties: { 'octane.secret_strength': expect.any(String) },
    });
    expect(JSON.stringify(denied.body)).not.toContain('"Password"');

    const far = new Date(Date.now() + 365 * 86400_000).toISOString();
    const res = await g
      .http()
      .post(keys)
      .set(alice)
      .send({ data: [{ name: 'clamped', client_secret: 'Xk#9vQ!2mWp$7rTz', expiration: far }] })
      .expect(201);
    expect(res.headers['x-keygate-policy-warnings']).toContain('octane.max_expiration');
    const key = (await s.admin.state()).octane.api_accesses.find(
      (a) => a.name === 'clamped',
    ) as unknown as { expiration: string };
    expect(Date.parse(key.expiration)).toBeLessThanOrEqual(Date.now() + 30 * 86400_000);
  });

  it('generates a strong secret when none is sent, returns it once, and it works at Octane', async () => {
    const expiration = new Date(Date.now() + 86400_000).toISOString();
    const res = await g
      .http()
      .post(`${keys}?fields=client_id`)
      .set(alice)
      .send({ data: [{ name: 'generated', expiration }] });
    expect(res.status).toBe(201);
    const { client_id, client_secret, id } = res.body.data[0];
    expect(client_secret).toMatch(/^(?=.*[A-Z])(?=.*[a-z])(?=.*\d)(?=.*[^A-Za-z0-9]).{28}$/);
    await signIn(client_id, client_secret).expect(200);
    const read = await g.http().get(`${keys}/${id}`).set(alice).expect(200);
    expect(read.body.client_secret).toBeUndefined();

    const regenerated = await g
      .http()
      .put(`${keys}/${id}?fields=client_id`)
      .set(alice)
      .send({ is_valid: true })
      .expect(200);
    expect(regenerated.body.client_secret).toEqual(expect.any(String));
    expect(regenerated.body.client_secret).not.toBe(client_secret);
    await signIn(client_id, regenerated.body.client_secret).expect(200);
    await signIn(client_id, client_secret).expect(401);
  });

  it('lets only the issuing team or keygate:admin revoke a credential', async () => {
    const token = (
      await g
        .http()
        .post(tokens())
        .set(alice)
        .send({ label: 'ci-a', role_id: CI_ROLE_ID, valid_for_seconds: 60 })
        .expect(200)
    ).body.response;
    const denied = await g.http().delete(`${tokens()}/${token.id}`).set(bob).expect(403);
    expect(denied.body.violations).toEqual([
      expect.objectContaining({
        rule: 'revocation.other_team',
        limit: 'payments',
        actual: 'platform',
      }),
    ]);
    expect((await s.admin.state()).requests['qwiet.tokens.delete']).toBeUndefined();
    await g.http().delete(`${tokens()}/${token.id}`).set(alice).expect(200);

    const another = (
      await g
        .http()
        .post(tokens())
        .set(alice)
        .send({ label: 'ci-b', role_id: CI_ROLE_ID, valid_for_seconds: 60 })
        .expect(200)
    ).body.response;
    await g.http().delete(`${tokens()}/${another.id}`).set(admin).expect(200);

    // A token Keygate has no record of (not its own, which is protected apart).
    const seeded = (await s.admin.state()).qwiet.tokens.find(
      (t) => t.seeded && t.org_id === orgId && t.label === 'Service account',
    );
    const unknown = await g.http().delete(`${tokens()}/${seeded?.id}`).set(alice).expect(403);
    expect(unknown.body.violations[0].message).toContain('no record');
  });

  it('GET /v1/policy shows a member its own team only, security and admins every team, nobody the path', async () => {
    const own = (await g.http().get('/v1/policy').set(alice).expect(200)).body;
    expect(own).toEqual({
      revision: expect.stringMatching(/^sha256:/),
      loaded_at: expect.any(String),
      team: 'payments',
      qwiet_orgs: [orgId],
      octane_shared_spaces: ['1001'],
      rules: expect.objectContaining({
        qwiet: expect.objectContaining({ max_lifetime: { max_seconds: 3600 } }),
      }),
      global_rules: expect.objectContaining({ revocation: { other_team: {} } }),
    });
    const text = JSON.stringify(own);
    expect(text).not.toContain('platform');
    expect(text).not.toContain(s.options.qwietOrgs[1].id);
    expect(text).not.toContain(dirname(policyFile));

    // A team the file does not name gets the global rules and no org or shared space.
    const stranger = {
      Authorization: `Bearer ${await g.token({ team: 'marketing', sub: 'mo' })}`,
    };
    const outside = (await g.http().get('/v1/policy').set(stranger).expect(200)).body;
    expect(outside).toMatchObject({ team: 'marketing', qwiet_orgs: [], octane_shared_spaces: [] });
    expect(outside.rules.qwiet.max_lifetime).toEqual({ max_seconds: 3600 });
    // An auditor is a member of its own team here.
    expect((await g.http().get('/v1/policy').set(auditor).expect(200)).body.teams).toBeUndefined();

    for (const whole of [security, admin]) {
      const all = (await g.http().get('/v1/policy').set(whole).expect(200)).body;
      expect(all).toMatchObject({
        revision: own.revision,
        file: basename(policyFile),
        document: { version: 1, rules: { qwiet: { max_lifetime: { max_seconds: 3600 } } } },
        teams: {
          payments: { qwiet_orgs: [orgId], octane_shared_spaces: ['1001'] },
          platform: { octane_shared_spaces: ['1001', '2001'] },
        },
        other_teams: { qwiet_orgs: [] },
      });
      expect(JSON.stringify(all)).not.toContain(dirname(policyFile));
    }
  });

  it('explains for another team only to security and admins; explain decides without calling a vendor', async () => {
    const current = await g.http().get('/v1/policy').set(alice).expect(200);
    const explained = await g
      .http()
      .post('/v1/policy/explain')
      .set(alice)
      .send({
        action: 'qwiet.token.issue',
        org_id: orgId,
        body: { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 99999 },
      })
      .expect(200);
    expect(explained.body).toMatchObject({
      allowed: false,
      violations: [{ rule: 'qwiet.max_lifetime', limit: 3600, actual: 99999 }],
      revision: current.body.revision,
    });
    expect(explained.body.evaluated).toContain('qwiet.allowed_roles');
    const forPlatform = await g
      .http()
      .post('/v1/policy/explain')
      .set(admin)
      .send({ action: 'qwiet.read', team: 'payments', org_id: s.options.qwietOrgs[1].id })
      .expect(200);
    expect(forPlatform.body).toMatchObject({
      allowed: false,
      violations: [{ rule: 'scope.qwiet_org' }],
    });
    const bySecurity = await g
      .http()
      .post('/v1/policy/explain')
      .set(security)
      .send({ action: 'qwiet.read', team: 'payments', org_id: orgId })
      .expect(200);
    expect(bySecurity.body.allowed).toBe(true);
    for (const member of [alice, auditor]) {
      const refused = await g
        .http()
        .post('/v1/policy/explain')
        .set(member)
        .send({ action: 'qwiet.read', team: 'platform', org_id: orgId })
        .expect(403);
      expect(refused.body.message).toContain('keygate:security or keygate:admin');
    }
    const invalid = await g
      .http()
      .post('/v1/policy/explain')
      .set(alice)
      .send({ action: 'qwiet.token.issue', org_id: orgId, body: { label: 3 } })
      .expect(400);
    expect(Object.keys(invalid.body.details)).toEqual(
      expect.arrayContaining(['body.label', 'body.role_id']),
    );
    expect(
      Object.keys((await s.admin.state()).requests).filter((op) => !op.startsWith('sim.')),
    ).toEqual([]);
  });

  describe('hot reload', () => {
    const withCap = (seconds: number) =>
      scopeOnlyPolicy(s, `rules:\n  qwiet:\n    max_lifetime: { max_seconds: ${seconds} }`);
    const issueAt = (gw: StartedGateway, seconds: number) =>
      gw
        .http()
        .post(`/qwiet/api/v4/orgs/${orgId}/tokens`)
        .set(alice)
        .send({ label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: seconds });
    const policyRecords = async (gw: StartedGateway) =>
      (
        await gw.http().get('/v1/audit?event=policy.loaded').set(auditor).expect(200)
      ).body.records.concat(
        (await gw.http().get('/v1/audit?event=policy.rejected').set(auditor).expect(200)).body
          .records,
      ) as { seq: number; event: string; phase: string; policy: Record<string, unknown> }[];
    const revisionOf = async (gw: StartedGateway) =>
      (await gw.http().get('/v1/policy').set(alice).expect(200)).body.revision as string;

    describe('a plain file', () => {
      let h: StartedGateway;
      let file: string;
      let store: PolicyStore;
      beforeAll(async () => {
        file = writePolicy(withCap(3600));
        // A ledger of its own: its policy.* records are read back.
        h = await startGateway(s, { POLICY_FILE: file }, { database: 'own' });
        store = h.app.get(PolicyStore);
      });
      afterAll(() => h.close());

      it('applies a changed file, keeps the last good policy when the new one is invalid, and audits both', async () => {
        await issueAt(h, 7200).expect(403);
        const before = await revisionOf(h);

        const reloaded = next(store, 'reloaded');
        writeFileSync(file, withCap(86400));
        await reloaded;
        await issueAt(h, 7200).expect(200);
        const after = await revisionOf(h);
        expect(after).not.toBe(before);

        const rejected = next(store, 'rejected');
        writeFileSync(
          file,
          scopeOnlyPolicy(s, "rules:\n  qwiet:\n    label_pattern: { pattern: '(a+)+$' }"),
        );
        await rejected;
        expect(await revisionOf(h)).toBe(after);
        const status = (await h.http().get('/v1/policy').set(security).expect(200)).body;
        expect(status.last_rejected.problems).toEqual([
          expect.stringContaining(
            'rules.qwiet.label_pattern: pattern may backtrack catastrophically',
          ),
        ]);
        // A member sees which revision is in force, not what security got wrong.
        expect(
          (await h.http().get('/v1/policy').set(alice).expect(200)).body.last_rejected,
        ).toBeUndefined();
        await issueAt(h, 7200).expect(200);
        await issueAt(h, 90000).expect(403);
        // nestjs-pino sends logs made outside a request to the first app of the process: look in both.
        expect(g.logs.text() + h.logs.text()).toContain('policy reload rejected');

        const records = (await policyRecords(h)).sort((x, y) => x.seq - y.seq);
        expect(records.map((r) => [r.event, r.phase, r.policy])).toEqual([
          ['policy.loaded', 'succeeded', { file: 'policy.yaml', revision: before }],
          [
            'policy.loaded',
            'succeeded',
            { file: 'policy.yaml', revision: after, previous_revision: before },
          ],
          [
            'policy.rejected',
            'failed',
            {
              file: 'policy.yaml',
              revision_in_force: after,
              problems: status.last_rejected.problems,
            },
          ],
        ]);
        expect(JSON.stringify(records)).not.toContain(dirname(file));
        expect((await h.http().get('/v1/audit/verify').set(auditor).expect(200)).body.ok).toBe(
          true,
        );
      });

      it('applies a file replaced by renaming a new one over it', async () => {
        const before = await revisionOf(h);
        const reloaded = next(store, 'reloaded');
        const staged = join(dirname(file), '.policy.yaml.new');
        writeFileSync(staged, withCap(1800));
        renameSync(staged, file);
        await reloaded;
        expect(await revisionOf(h)).not.toBe(before);
        await issueAt(h, 3600).expect(403);
        await issueAt(h, 1800).expect(200);
      });
    });

    it('follows a Kubernetes ConfigMap volume: the ..data link renamed over, the old version removed', async () => {
      const volume = configMapPolicy(withCap(3600));
      const k = await startGateway(s, { POLICY_FILE: volume.file }, { database: 'own' });
      try {
        const store = k.app.get(PolicyStore);
        await issueAt(k, 7200).expect(403);
        const first = await revisionOf(k);

        let reloaded = next(store, 'reloaded');
        volume.publish(withCap(86400));
        await reloaded;
        await issueAt(k, 7200).expect(200);
        const second = await revisionOf(k);

        // Again: the folder watched before is gone now; the new one is followed.
        reloaded = next(store, 'reloaded');
        volume.publish(withCap(60));
        await reloaded;
        await issueAt(k, 120).expect(403);
        const third = await revisionOf(k);

        const rejected = next(store, 'rejected');
        volume.publish('version: 1\nrules: { qwiet: { max_lifetime: { max_seconds: -1 } } }\n');
        await rejected;
        expect(await revisionOf(k)).toBe(third);

        const records = (await policyRecords(k)).sort((x, y) => x.seq - y.seq);
        expect(
          records.map((r) => [r.event, r.policy.revision ?? r.policy.revision_in_force]),
        ).toEqual([
          ['policy.loaded', first],
          ['policy.loaded', second],
          ['policy.loaded', third],
          ['policy.rejected', third],
        ]);
        expect(records[2].policy).toMatchObject({ file: 'policy.yaml', previous_revision: second });
      } finally {
        await k.close();
      }
    });

    it('reloads even when the audit ledger cannot be written, and logs that it could not record it', async () => {
      const file = writePolicy(withCap(3600));
      const d = await startGateway(s, { POLICY_FILE: file }, { database: 'own' });
      try {
        const store = d.app.get(PolicyStore);
        const before = await revisionOf(d);
        // The database refuses connections and the gateway's sessions are ended.
        await asServer(`ALTER DATABASE ${d.db.name} ALLOW_CONNECTIONS false`);
        await terminateGatewaySessions(d.db.name);
        const reloaded = next(store, 'reloaded');
        writeFileSync(file, withCap(60));
        await reloaded;
        expect(await revisionOf(d)).not.toBe(before);
        const explained = await d
          .http()
          .post('/v1/policy/explain')
          .set(alice)
          .send({
            action: 'qwiet.token.issue',
            org_id: orgId,
            body: { label: 'x', role_id: CI_ROLE_ID, valid_for_seconds: 120 },
          })
          .expect(200);
        expect(explained.body.violations).toEqual([
          expect.objectContaining({ rule: 'qwiet.max_lifetime', limit: 60 }),
        ]);
        expect(g.logs.text() + d.logs.text()).toContain(
          'policy change could not be recorded in the audit log',
        );
      } finally {
        await d.close();
      }
    });
  });

  it('refuses to start with an invalid policy, naming the problem', async () => {
    const bad = writePolicy(
      'version: 1\nrules: { qwiet: { max_lifetime: { max_seconds: "long" } } }\n',
    );
    await expect(startGateway(s, { POLICY_FILE: bad })).rejects.toThrow(
      /rules\.qwiet\.max_lifetime\.max_seconds: must be integer/,
    );
    const foreign = writePolicy(
      'version: 1\nteams:\n  x: { qwiet_orgs: [00000000-0000-4000-8000-000000000000] }\n',
    );
    await expect(startGateway(s, { POLICY_FILE: foreign })).rejects.toThrow(
      /holds no Qwiet token for org/,
    );
    await expect(startGateway(s, { POLICY_FILE: '/nonexistent/policy.yaml' })).rejects.toThrow(
      /cannot be read/,
    );
    // None of them got as far as the vendor: nothing was issued.
    const state = await s.admin.state();
    expect(state.qwiet.tokens.filter((t) => !t.seeded)).toEqual([]);
    expect(state.octane.api_accesses.filter((k) => !k.seeded)).toEqual([]);
  });
});
