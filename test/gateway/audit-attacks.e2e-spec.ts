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
  AuditFileSink,
  chainLine,
  checkpointMac,
  fingerprint,
  GENESIS_HASH,
  headMac,
  parseCheckpoint,
  readRecords,
  segmentName,
  verifyAuditLog,
} from '@app/audit';
import { Database, PgLedgerSink } from '@app/ledger';
import { CI_ROLE_ID } from '@app/upstream-sim';
import { auditAcceptLossCommand } from '../../apps/cli/src/audit-accept-loss.command';
import { auditVerifyCommand } from '../../apps/cli/src/audit-verify.command';
import {
  asDatabase,
  createTestDatabase,
  ledgerRecords,
  TestDatabase,
  verifyStored,
} from '../support/db';
import {
  startGateway,
  startSimulator,
  StartedGateway,
  StartedSimulator,
  TEST_AUDIT_KEY,
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
  let s: StartedSimulator;
  let db: TestDatabase;
  beforeAll(async () => {
    s = await startSimulator();
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await s.sim.close();
    await db.drop();
  });

  it('a head MAC asked of /v1/audit/fingerprint is not the ledger head’s, and a head carrying it is refused', async () => {
    const g = await startGateway(s, { DATABASE_URL: db.url });
    let answer: { fingerprint: string };
    let point: { seq: number; hash: string };
    try {
      for (let i = 0; i < 3; i++) await issue(g, s, 200);
      const auditor = {
        Authorization: `Bearer ${await g.token({ team: 'security', sub: 'mallory', roles: ['keygate:auditor'] })}`,
      };
      // The auditor picks the point after the first issuance and asks for the head's MAC of it.
      const records = await ledgerRecords(db.url);
      const last = records[records.findIndex((r) => r.event === 'qwiet.token.issue') + 1];
      point = { seq: last.seq, hash: last.hash };
      const text = `keygate-audit-head:${last.seq}:${last.hash}`;
      answer = (
        await g.http().post('/v1/audit/fingerprint').set(auditor).send({ secret: text }).expect(200)
      ).body;
      expect(answer.fingerprint).not.toBe(`hmac-sha256:${rawMac(text)}`);
      expect(answer.fingerprint.replace('hmac-sha256:', '')).not.toBe(
        headMac(TEST_AUDIT_KEY, last.seq, last.hash),
      );
    } finally {
      await g.close();
    }
    // The head moved to that point with the oracle's MAC (the records after it cannot be cut:
    // the trigger refuses): verify refuses the head, and a gateway started on it changes nothing.
    await asDatabase(
      db.url,
      `UPDATE ledger_head SET seq = ${point.seq}, hash = '${point.hash}', mac = '${answer.fingerprint.replace('hmac-sha256:', '')}'`,
    );
    const result = await verifyStored(db.url, TEST_AUDIT_KEY);
    expect(result.ok).toBe(false);
    const again = await startGateway(s, { DATABASE_URL: db.url });
    try {
      const created = (await s.admin.state()).requests['qwiet.tokens.create'];
      expect((await issue(again, s, 503)).body.code).toBe('AUDIT_UNAVAILABLE');
      expect((await s.admin.state()).requests['qwiet.tokens.create']).toBe(created);
      const admin = { Authorization: `Bearer ${await again.token({ roles: ['keygate:admin'] })}` };
      await again.http().get('/health/ready').set(admin).expect(503);
    } finally {
      await again.close();
    }
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

  it('finds old records by a leaked secret (raw-key fingerprints) in the ledger, and answers only the new fingerprint', async () => {
    const db = await createTestDatabase();
    // An old record, as an import of an earlier release's log brings it: a raw-key fingerprint.
    const database = await Database.connect({ url: db.url });
    const sink = await PgLedgerSink.open({ database, hmacKey: TEST_AUDIT_KEY });
    await sink.append([
      {
        request_id: 'old-request',
        event: 'qwiet.token.issue',
        phase: 'succeeded',
        actor: { subject: 'alice', team: 'payments' },
        target: { vendor: 'qwiet', credential_id: 'old-token' },
        fingerprint: `hmac-sha256:${rawMac('old-secret')}`,
      },
    ]);
    await sink.close();
    await database.close();
    const g = await startGateway(s, { DATABASE_URL: db.url });
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
    expect(await verifyStored(db.url, TEST_AUDIT_KEY)).toMatchObject({ ok: true, head: 'matches' });
    await db.drop();
  });
});

/**
 * The file log is the export format (keygate audit export/import, accept-loss), no longer a store
 * of the gateway: its writer (AuditFileSink) must still refuse to adopt a cut log.
 */
const openFileLog = (dir: string) =>
  AuditFileSink.open({ dir, hmacKey: TEST_AUDIT_KEY, segmentBytes: 1 << 20, fsync: false });

const fileEntry = (n: number): AuditEntry => ({
  request_id: `file-${n}`,
  event: 'qwiet.token.issue',
  phase: 'succeeded',
  actor: { subject: 'alice', team: 'payments' },
  target: { vendor: 'qwiet', credential_id: `tok-${n}` },
});

/** A file log of two issuances (attempt and outcome each), written and closed. */
async function fileLogOfTwoIssuances(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-cut-'));
  const sink = await openFileLog(dir);
  for (let i = 1; i <= 2; i++) {
    await sink.append([{ ...fileEntry(i), phase: 'attempt' }]);
    await sink.append([fileEntry(i)]);
  }
  await sink.close();
  return dir;
}

describe('audit attacks: the file log writer does not adopt a cut log', () => {
  it('records cut from the end while closed: writes refused, health names the gap, verify still broken', async () => {
    const dir = await fileLogOfTwoIssuances();
    const segment = join(dir, segmentName(1));
    const all = lines(segment);
    writeLines(segment, all.slice(0, -2));
    const sink = await openFileLog(dir);
    try {
      await expect(sink.append([fileEntry(3)])).rejects.toThrow();
      const health = sink.health();
      expect(health.ok).toBe(false);
      const headSeq = all.length;
      const endSeq = all.length - 2;
      expect(health.error).toContain(`head records seq ${headSeq}`);
      expect(health.error).toContain(`log ends at seq ${endSeq}`);
      expect(health.gap).toMatchObject({ head: { seq: headSeq }, end: { seq: endSeq } });
    } finally {
      await sink.close();
    }
    expect(verifyAuditLog(dir, TEST_AUDIT_KEY).ok).toBe(false);
  });

  it('a line that is not a record at the end: refused, not a chain restarted at seq 1', async () => {
    const dir = await fileLogOfTwoIssuances();
    const before = lines(join(dir, segmentName(1))).length;
    appendFileSync(join(dir, segmentName(1)), 'hello\n');
    const sink = await openFileLog(dir);
    try {
      await expect(sink.append([fileEntry(3)])).rejects.toThrow();
      expect(sink.health().error).toContain('not a chained audit record');
    } finally {
      await sink.close();
    }
    expect(lines(join(dir, segmentName(1)))).toHaveLength(before + 1);
  });

  it('a half-written last line (a crash mid-write) is still cut, and writing goes on', async () => {
    const dir = await fileLogOfTwoIssuances();
    appendFileSync(join(dir, segmentName(1)), '{"seq":99,"prev_hash":"torn');
    const sink = await openFileLog(dir);
    try {
      expect(sink.repairedBytes).toBeGreaterThan(0);
      await sink.append([fileEntry(3)]);
    } finally {
      await sink.close();
    }
    expect(verifyAuditLog(dir, TEST_AUDIT_KEY)).toMatchObject({ ok: true, head: 'matches' });
  });
});

describe('audit attacks: an operator accepts a loss, on the record', () => {
  const env = { AUDIT_HMAC_KEY: TEST_AUDIT_KEY };

  it('keygate audit accept-loss records who accepted which gap and why; then the log verifies and writing goes on', async () => {
    const dir = await fileLogOfTwoIssuances();
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
    const sink = await openFileLog(dir);
    try {
      await sink.append([fileEntry(3)]);
    } finally {
      await sink.close();
    }
    expect(verifyAuditLog(dir, TEST_AUDIT_KEY)).toMatchObject({ ok: true, head: 'matches' });
  });

  it('a file log rolled back to an old head passes verify alone; a later checkpoint catches it', async () => {
    const dir = await fileLogOfTwoIssuances();
    const snapshot = copyDir(dir);
    const sink = await openFileLog(dir);
    await sink.append([fileEntry(3)]);
    const point = sink.health().last!;
    await sink.close();
    const mac = checkpointMac(TEST_AUDIT_KEY, point.seq, point.hash);
    const checkpoint = `${point.seq}:${point.hash}:${mac}`;
    expect(auditVerifyCommand([dir, '--checkpoint', checkpoint], env).status).toBe(0);
    expect(verifyAuditLog(snapshot, TEST_AUDIT_KEY).ok).toBe(true);
    const rolledBack = auditVerifyCommand([snapshot, '--checkpoint', checkpoint, '--json'], env);
    expect(rolledBack.status).toBe(1);
    expect(JSON.parse(rolledBack.output).problem).toMatchObject({ kind: 'rollback' });
    // A checkpoint not signed with the key is refused.
    const forged = `${point.seq}:${point.hash}:${'0'.repeat(64)}`;
    expect(auditVerifyCommand([dir, '--checkpoint', forged], env).status).toBe(1);
  });
});

describe('audit attacks: signed checkpoints of the PostgreSQL ledger in the stdout log', () => {
  let s: StartedSimulator;
  let db: TestDatabase;
  beforeAll(async () => {
    s = await startSimulator();
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await s.sim.close();
    await db.drop();
  });

  it('each gateway writes a checkpoint at shutdown naming a record of the ledger, signed with the checkpoint key', async () => {
    const checkpointOf = async () => {
      const g = await startGateway(s, { DATABASE_URL: db.url });
      try {
        await issue(g, s, 200);
      } finally {
        await g.close();
      }
      const line = g.logs.lines
        .flatMap((l) => l.split('\n'))
        .filter((l) => l.includes('"msg":"audit checkpoint"'))
        .pop();
      expect(line).toBeDefined();
      return parseCheckpoint(line!)!;
    };
    const first = await checkpointOf();
    const second = await checkpointOf();
    expect(second.seq).toBeGreaterThan(first.seq);
    const records = await ledgerRecords(db.url);
    for (const point of [first, second]) {
      expect(records.find((r) => r.seq === point.seq)?.hash).toBe(point.hash);
      expect(point.mac).toBe(checkpointMac(TEST_AUDIT_KEY, point.seq, point.hash));
    }
    // The last checkpoint is the ledger's end.
    expect(records[records.length - 1]).toMatchObject({ seq: second.seq, hash: second.hash });
  });
});
