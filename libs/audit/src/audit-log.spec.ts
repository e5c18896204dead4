import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  appendFileSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEntry } from './audit.types';
import { chainLine, GENESIS_HASH } from './chain';
import { AuditFileSink, AuditUnavailableError } from './file-sink';
import { fingerprint } from './keys';
import { listSegments, segmentName } from './segments';
import { verifyAuditLog } from './verify';

const KEY = 'audit-test-key';
const entry = (i: number): AuditEntry => ({
  request_id: `req-${i}`,
  event: 'qwiet.token.issue',
  phase: 'attempt',
  actor: { subject: 'alice', team: 'payments' },
  target: { vendor: 'qwiet', org_id: 'org', label: `ci-${i}` },
});
const tempDir = () => mkdtempSync(join(tmpdir(), 'keygate-audit-'));
const open = (dir: string, segmentBytes = 1 << 20) =>
  AuditFileSink.open({ dir, segmentBytes, hmacKey: KEY, fsync: true });
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const writeLines = (file: string, ls: string[]) =>
  writeFileSync(file, ls.map((l) => `${l}\n`).join(''));

async function logWith(
  n: number,
  segmentBytes?: number,
): Promise<{ dir: string; sink: AuditFileSink }> {
  const dir = tempDir();
  const sink = await open(dir, segmentBytes);
  for (let i = 1; i <= n; i++) await sink.append([entry(i)]);
  return { dir, sink };
}

describe('audit log: chain and verifier', () => {
  it('writes a chain that verifies, with seq from 1 and the head MAC matching', async () => {
    const { dir, sink } = await logWith(5);
    await sink.close();
    const result = verifyAuditLog(dir, KEY);
    expect(result).toMatchObject({
      ok: true,
      records: 5,
      segments: 1,
      first: { seq: 1 },
      last: { seq: 5 },
      head: 'matches',
    });
    expect(result.proves).toContain('5 records in 1 segment(s)');
  });

  it('continues the chain across rotated segments and across a restart', async () => {
    const { dir, sink } = await logWith(40, 2000);
    await sink.close();
    const again = await open(dir, 2000);
    await again.append([entry(41)]);
    await again.close();
    const result = verifyAuditLog(dir, KEY);
    expect(result.segments).toBeGreaterThan(3);
    expect(result).toMatchObject({ ok: true, records: 41, last: { seq: 41 } });
    // Rotation numbers the segments in turn: 1, 2, 3, ... with no gap, in the order they are read.
    expect(listSegments(dir)).toEqual(
      Array.from({ length: result.segments }, (_, i) => join(dir, segmentName(i + 1))),
    );
  });

  describe('names the first broken record', () => {
    let dir: string;
    let file: string;
    beforeEach(async () => {
      const log = await logWith(6);
      await log.sink.close();
      dir = log.dir;
      file = join(dir, segmentName(1));
    });

    it('a changed byte', () => {
      const ls = lines(file);
      ls[2] = ls[2].replace('ci-3', 'ci-X');
      writeLines(file, ls);
      expect(verifyAuditLog(dir, KEY).problem).toMatchObject({ kind: 'altered', seq: 3, line: 3 });
    });

    it('a deleted line', () => {
      const ls = lines(file);
      ls.splice(3, 1);
      writeLines(file, ls);
      expect(verifyAuditLog(dir, KEY).problem).toMatchObject({
        kind: 'missing',
        seq: 5,
        message: 'records seq 4 to 4 are missing',
      });
    });

    it('a swapped pair', () => {
      const ls = lines(file);
      [ls[1], ls[2]] = [ls[2], ls[1]];
      writeLines(file, ls);
      expect(verifyAuditLog(dir, KEY).problem).toMatchObject({
        kind: 'reordered',
        seq: 3,
        line: 2,
      });
    });

    it('a record rewritten with a fresh hash', () => {
      const ls = lines(file);
      const forged = JSON.parse(ls[3]);
      forged.target.label = 'forged';
      delete forged.hash;
      const body = JSON.stringify(forged);
      ls[3] = `${body.slice(0, -1)},"hash":"${createHash('sha256').update(body).digest('hex')}"}`;
      writeLines(file, ls);
      expect(verifyAuditLog(dir, KEY).problem).toMatchObject({
        kind: 'altered',
        seq: 5,
        message: expect.stringContaining('does not chain'),
      });
    });

    it('a tail cut mid-line', () => {
      const text = readFileSync(file, 'utf8');
      writeFileSync(file, text.slice(0, -40));
      expect(verifyAuditLog(dir, KEY).problem).toMatchObject({ kind: 'truncated', line: 6 });
    });

    it('whole records cut from the end (caught by the head)', () => {
      writeLines(file, lines(file).slice(0, 4));
      expect(verifyAuditLog(dir, KEY).problem).toMatchObject({
        kind: 'truncated',
        seq: 4,
        message: expect.stringContaining('head records seq 6'),
      });
    });

    it('a head forged without the key', () => {
      writeLines(file, lines(file).slice(0, 4));
      const last = JSON.parse(lines(file)[3]);
      writeFileSync(
        join(dir, 'keygate-audit.head'),
        JSON.stringify({ seq: 4, hash: last.hash, mac: 'forged' }),
      );
      expect(verifyAuditLog(dir, KEY).problem).toMatchObject({
        kind: 'altered',
        message: expect.stringContaining('head file was altered'),
      });
      // Without the key the head proves nothing: said so, and a failure unless --no-head.
      expect(verifyAuditLog(dir)).toMatchObject({ ok: false, head: 'unverified (no key)' });
      expect(verifyAuditLog(dir, undefined, { noHead: true }).ok).toBe(true);
    });

    it('a line that is not a record', () => {
      appendFileSync(file, 'hello\n');
      expect(verifyAuditLog(file).problem).toMatchObject({ kind: 'malformed', line: 7 });
    });
  });
});

describe('audit log: durability', () => {
  it('shares one write and one fdatasync among concurrent appends (group commit)', async () => {
    const dir = tempDir();
    const sink = await open(dir);
    const records = await Promise.all(
      Array.from({ length: 200 }, (_, i) => sink.append([entry(i)])),
    );
    expect(records.map((r) => r[0].seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    expect(sink.batches).toBeLessThan(200);
    expect(sink.batches).toBeGreaterThanOrEqual(1);
    await sink.close();
    expect(verifyAuditLog(dir, KEY)).toMatchObject({ ok: true, records: 200 });
  });

  it('cuts a half-written last line at start-up and goes on with the chain', async () => {
    const { dir, sink } = await logWith(3);
    await sink.close();
    const torn = '{"seq":4,"prev_hash":"torn';
    appendFileSync(join(dir, segmentName(1)), torn);
    const again = await open(dir);
    expect(again.repairedBytes).toBe(torn.length);
    await again.append([entry(4)]);
    await again.close();
    expect(verifyAuditLog(dir, KEY)).toMatchObject({ ok: true, records: 4 });
  });

  it('fails closed when the directory is missing, and recovers once it exists', async () => {
    const dir = join(tempDir(), 'not-yet');
    const sink = await open(dir);
    expect(sink.health()).toMatchObject({ ok: false, error: expect.stringContaining('ENOENT') });
    await expect(sink.append([entry(1)])).rejects.toBeInstanceOf(AuditUnavailableError);
    mkdirSync(dir);
    await sink.append([entry(1)]);
    expect(sink.health().ok).toBe(true);
    await sink.close();
  });

  it('fails closed on a full disk, leaving no half batch behind', async () => {
    const { dir, sink } = await logWith(2);
    await sink.close();
    // The next write rotates (segments of 1 byte) into segment 2: a link to /dev/full.
    const full = await AuditFileSink.open({ dir, segmentBytes: 1, hmacKey: KEY, fsync: true });
    const file = join(dir, segmentName(2));
    symlinkSync('/dev/full', file);
    await expect(full.append([entry(3)])).rejects.toThrow(/ENOSPC/);
    expect(full.health()).toMatchObject({ ok: false, error: expect.stringContaining('ENOSPC') });
    await full.close();
    unlinkSync(file);
    expect(verifyAuditLog(dir, KEY)).toMatchObject({ ok: true, records: 2 });
  });

  it('fails closed, and stays closed, when the open file is deleted under it', async () => {
    const { dir, sink } = await logWith(2);
    rmSync(join(dir, segmentName(1)));
    await expect(sink.append([entry(3)])).rejects.toThrow(/removed or replaced/);
    await expect(sink.append([entry(4)])).rejects.toThrow(/removed or replaced/);
    expect(existsSync(join(dir, segmentName(1)))).toBe(false);
    expect(sink.health().ok).toBe(false);
    await sink.close();
  });

  it('fingerprints a secret with the key, the same every time, never containing it', () => {
    const fp = fingerprint(KEY, 'the-secret');
    expect(fp).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(fingerprint(KEY, 'the-secret')).toBe(fp);
    expect(fingerprint('other-key', 'the-secret')).not.toBe(fp);
  });
});

describe('chainLine', () => {
  it('writes the record as JSON with seq, prev_hash and time first, and the hash of the rest last', () => {
    const odd: AuditEntry = {
      ...entry(1),
      note: 'quotes " and \\ backslashes, a tab\t, unicode é and \u2028',
    };
    const { line, hash } = chainLine(7, GENESIS_HASH, '2026-11-22T10:00:00.000Z', odd);
    const body = JSON.stringify({
      seq: 7,
      prev_hash: GENESIS_HASH,
      time: '2026-11-22T10:00:00.000Z',
      ...odd,
    });
    expect(hash).toBe(createHash('sha256').update(body).digest('hex'));
    expect(line).toBe(`${body.slice(0, -1)},"hash":"${hash}"}\n`);
    expect(JSON.parse(line)).toEqual({ ...JSON.parse(body), hash });
  });
});
