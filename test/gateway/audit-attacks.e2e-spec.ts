import { createHmac } from 'node:crypto';
import {
  appendFileSync,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuditEntry,
  chainLine,
  fingerprint,
  GENESIS_HASH,
  readRecords,
  segmentName,
  verifyAuditLog,
} from '@app/audit';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { auditAcceptLossCommand } from '../../apps/cli/src/audit-accept-loss.command';
import { auditVerifyCommand } from '../../apps/cli/src/audit-verify.command';
import {
  startGateway,
  startSimulator,
  StartedGateway,
  StartedSimulator,
  TEST_AUDIT_KEY,
  useStack,
} from '../support/gateway';

/** What today's release (raw-key MACs) computes: never to be handed out any more. */
const rawMac = (text: string) => createHmac('sha256', TEST_AUDIT_KEY).update(text).digest('hex');
const HEAD = 'keygate-audit.head';
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const writeLines = (file: string, ls: string[]) =>
  writeFileSync(file, ls.map((l) => `${l}\n`).join(''));

/** A copy of an audit directory (segments and head). */
function copyDir(dir: string): string {
  const copy = mkdtempSync(join(tmpdir(), 'keygate-forged-'));
  for (const f of readdirSync(dir)) copyFileSync(join(dir, f), join(copy, f));
  return copy;
}

async function issue(g: StartedGateway, s: StartedSimulator, status: number) {
  const bearer = { Authorization: `Bearer ${await g.token()}` };
  return g
    .http()
    .post(`/qwiet/api/v4/orgs/${s.options.qwietOrgs[0].id}/tokens`)
    .set(bearer)
    .send({ label: 'attack', role_id: CI_ROLE_ID, valid_for_seconds: 600 })
    .expect(status);
}

describe('audit attacks: the fingerprint endpoint is no MAC oracle', () => {
  let auditDir: string;
  const stack = useStack(() => {
    auditDir = mkdtempSync(join(tmpdir(), 'keygate-oracle-'));
    return { AUDIT_DIR: auditDir };
  });

  it('a head MAC asked of /v1/audit/fingerprint does not pass verify', async () => {
    const { s, g } = stack;
    for (let i = 0; i < 3; i++) await issue(g, s, 200);
    const auditor = {
      Authorization: `Bearer ${await g.token({ team: 'security', sub: 'mallory', roles: ['keygate:auditor'] })}`,
    };
    // The auditor cuts the log after the first issuance and asks for the head's MAC of that point.
    const records = readRecords(auditDir);
    const keep = records.findIndex((r) => r.event === 'qwiet.token.issue') + 1;
    const last = records[keep];
    const text = `keygate-audit-head:${last.seq}:${last.hash}`;
    const answer = (
      await g.http().post('/v1/audit/fingerprint').set(auditor).send({ secret: text }).expect(200)
    ).body;
    expect(answer.fingerprint).not.toBe(`hmac-sha256:${rawMac(text)}`);
    const forged = copyDir(auditDir);
    const segment = join(forged, segmentName(1));
    writeLines(segment, lines(segment).slice(0, keep + 1));
    writeFileSync(
      join(forged, HEAD),
      JSON.stringify({
        seq: last.seq,
        hash: last.hash,
        mac: answer.fingerprint.replace('hmac-sha256:', ''),
      }),
    );
    const result = verifyAuditLog(forged, TEST_AUDIT_KEY);
    expect(result.ok).toBe(false);
    expect(result.problem?.message).toContain('head');
  });
});

/** A log as today's release writes it: fingerprints and the head MAC with the raw key. */
function legacyLog(secret: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-legacy-'));
  const entry: AuditEntry = {
    request_id: 'old-request',
    event: 'qwiet.token.issue',
    phase: 'succeeded',
    actor: { subject: 'alice', team: 'payments' },
    target: { vendor: 'qwiet', credential_id: 'old-token' },
    fingerprint: `hmac-sha256:${rawMac(secret)}`,
  };
  const first = chainLine(1, GENESIS_HASH, '2026-11-01T10:00:00.000Z', entry);
  const second = chainLine(2, first.hash, '2026-11-01T10:00:01.000Z', {
    ...entry,
    request_id: 'old-request-2',
    fingerprint: undefined,
  });
  writeFileSync(join(dir, segmentName(1)), first.line + second.line);
  writeFileSync(
    join(dir, HEAD),
    JSON.stringify({
      seq: 2,
      hash: second.hash,
      time: '2026-11-01T10:00:01.000Z',
      mac: rawMac(`keygate-audit-head:2:${second.hash}`),
    }),
  );
  return dir;
}

describe('audit attacks: logs written by the previous release', () => {
  let s: StartedSimulator;
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(() => s.sim.close());

  it('accepts a raw-key head only when it matches exactly, as "legacy head"', () => {
    const dir = legacyLog('old-secret');
    expect(verifyAuditLog(dir, TEST_AUDIT_KEY)).toMatchObject({ ok: true, head: 'legacy head' });
    const head = JSON.parse(readFileSync(join(dir, HEAD), 'utf8'));
    writeFileSync(join(dir, HEAD), JSON.stringify({ ...head, mac: rawMac('something else') }));
    expect(verifyAuditLog(dir, TEST_AUDIT_KEY).ok).toBe(false);
  });

  it('finds old records by a leaked secret, answers only the new fingerprint, and rewrites the head with the new key', async () => {
    const dir = legacyLog('old-secret');
    const g = await startGateway(s, { AUDIT_DIR: dir });
    try {
      const auditor = {
        Authorization: `Bearer ${await g.token({ team: 'security', sub: 'eve', roles: ['keygate:auditor'] })}`,
      };
      const found = (
        await g
          .http()
          .post('/v1/audit/fingerprint')
          .set(auditor)
          .send({ secret: 'old-secret' })
          .expect(200)
      ).body;
      expect(found.fingerprint).toBe(fingerprint(TEST_AUDIT_KEY, 'old-secret'));
      expect(found.fingerprint).not.toBe(`hmac-sha256:${rawMac('old-secret')}`);
      expect(found.records.map((r: { request_id: string }) => r.request_id)).toEqual([
        'old-request',
      ]);
      await issue(g, s, 200);
    } finally {
      await g.close();
    }
    expect(verifyAuditLog(dir, TEST_AUDIT_KEY)).toMatchObject({ ok: true, head: 'matches' });
  });
});

describe('audit attacks: a restart does not adopt a cut log', () => {
  let s: StartedSimulator;
  const admin = async (g: StartedGateway) => ({
    Authorization: `Bearer ${await g.token({ roles: ['keygate:admin'] })}`,
  });
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(() => s.sim.close());
  beforeEach(() => s.admin.reset());

  async function logOfTwoIssuances(): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-cut-'));
    const g = await startGateway(s, { AUDIT_DIR: dir });
    try {
      await issue(g, s, 200);
      await issue(g, s, 200);
    } finally {
      await g.close();
    }
    return dir;
  }

  it('records cut from the end while stopped: changes refused, readiness red naming the gap, verify still broken', async () => {
    const dir = await logOfTwoIssuances();
    const segment = join(dir, segmentName(1));
    const all = lines(segment);
    writeLines(segment, all.slice(0, -2));
    const g = await startGateway(s, { AUDIT_DIR: dir });
    try {
      const created = (await s.admin.state()).requests['qwiet.tokens.create'];
      const refused = await issue(g, s, 503);
      expect(refused.body.code).toBe('AUDIT_UNAVAILABLE');
      expect((await s.admin.state()).requests['qwiet.tokens.create']).toBe(created);
      const ready = await g
        .http()
        .get('/health/ready')
        .set(await admin(g))
        .expect(503);
      const headSeq = all.length;
      const endSeq = all.length - 2;
      expect(ready.body.error.audit.message).toContain(`head records seq ${headSeq}`);
      expect(ready.body.error.audit.message).toContain(`log ends at seq ${endSeq}`);
      expect(ready.body.error.audit.gap).toMatchObject({
        head: { seq: headSeq },
        end: { seq: endSeq },
      });
    } finally {
      await g.close();
    }
    expect(verifyAuditLog(dir, TEST_AUDIT_KEY).ok).toBe(false);
  });

  it('a line that is not a record at the end: refused, not a chain restarted at seq 1', async () => {
    const dir = await logOfTwoIssuances();
    const before = lines(join(dir, segmentName(1))).length;
    appendFileSync(join(dir, segmentName(1)), 'hello\n');
    const g = await startGateway(s, { AUDIT_DIR: dir });
    try {
      await issue(g, s, 503);
      const ready = await g
        .http()
        .get('/health/ready')
        .set(await admin(g))
        .expect(503);
      expect(ready.body.error.audit.message).toContain('not a chained audit record');
    } finally {
      await g.close();
    }
    expect(lines(join(dir, segmentName(1)))).toHaveLength(before + 1);
  });

  it('a half-written last line (a crash mid-write) is still cut and noted, and issuance goes on', async () => {
    const dir = await logOfTwoIssuances();
    appendFileSync(join(dir, segmentName(1)), '{"seq":99,"prev_hash":"torn');
    const g = await startGateway(s, { AUDIT_DIR: dir });
    try {
      await issue(g, s, 200);
    } finally {
      await g.close();
    }
    expect(readRecords(dir).some((r) => r.event === 'audit.tail_repaired')).toBe(true);
    expect(verifyAuditLog(dir, TEST_AUDIT_KEY)).toMatchObject({ ok: true, head: 'matches' });
  });
});

describe('audit attacks: an operator accepts a loss, on the record', () => {
  let s: StartedSimulator;
  const env = { AUDIT_HMAC_KEY: TEST_AUDIT_KEY };
  beforeAll(async () => {
    s = await startSimulator();
  });
  afterAll(() => s.sim.close());

  async function run(dir: string, work: (g: StartedGateway) => Promise<unknown>) {
    const g = await startGateway(s, { AUDIT_DIR: dir });
    try {
      await work(g);
    } finally {
      await g.close();
    }
    return g;
  }

  it('keygate audit accept-loss records who accepted which gap and why; then the log verifies and issuance goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-accept-'));
    await run(dir, (g) => issue(g, s, 200));
    const segment = join(dir, segmentName(1));
    const all = lines(segment);
    writeLines(segment, all.slice(0, -1));
    appendFileSync(segment, 'not a record\n');
    expect((await auditAcceptLossCommand(['--by', 'carol', dir], env)).status).toBe(2);
    const accepted = await auditAcceptLossCommand(
      ['--by', 'carol', '--reason', 'disk restored from backup', dir],
      env,
    );
    expect(accepted.status).toBe(0);
    const loss = readRecords(dir).find((r) => r.event === 'audit.loss_accepted');
    expect(loss).toMatchObject({
      seq: all.length,
      actor: { subject: 'carol' },
      loss: {
        head: { seq: all.length },
        end: { seq: all.length - 1 },
        reason: 'disk restored from backup',
        set_aside: { bytes: 'not a record\n'.length },
      },
    });
    expect(readFileSync(join(dir, loss!.loss!.set_aside!.file), 'utf8')).toBe('not a record\n');
    expect(
      (await auditAcceptLossCommand(['--by', 'c', '--reason', 'again', dir], env)).status,
    ).toBe(1);
    await run(dir, (g) => issue(g, s, 200));
    expect(verifyAuditLog(dir, TEST_AUDIT_KEY)).toMatchObject({ ok: true, head: 'matches' });
  });

  it('signed checkpoints in the stdout log catch a rollback to an old head', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-checkpoint-'));
    const checkpointOf = (g: StartedGateway) => {
      const line = g.logs.lines
        .flatMap((l) => l.split('\n'))
        .filter((l) => l.includes('"msg":"audit checkpoint"'))
        .pop();
      expect(line).toBeDefined();
      return line!;
    };
    const first = checkpointOf(await run(dir, (g) => issue(g, s, 200)));
    const snapshot = copyDir(dir);
    const second = checkpointOf(await run(dir, (g) => issue(g, s, 200)));
    expect(auditVerifyCommand([dir, '--checkpoint', second], env).status).toBe(0);
    expect(auditVerifyCommand([dir, '--checkpoint', first], env).status).toBe(0);
    // Rolled back: the old records and the old head (its MAC valid): only the checkpoint shows it.
    expect(verifyAuditLog(snapshot, TEST_AUDIT_KEY).ok).toBe(true);
    const rolledBack = auditVerifyCommand([snapshot, '--checkpoint', second, '--json'], env);
    expect(rolledBack.status).toBe(1);
    expect(JSON.parse(rolledBack.output).problem).toMatchObject({ kind: 'rollback' });
    // A checkpoint not signed with the key is refused.
    const cp = JSON.parse(second).checkpoint as string;
    const forged = `${cp.slice(0, cp.lastIndexOf(':'))}:${'0'.repeat(64)}`;
    expect(auditVerifyCommand([dir, '--checkpoint', forged], env).status).toBe(1);
  });
});
