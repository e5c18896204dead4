import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditFileSink, segmentName } from '@app/audit';
import { auditVerifyCommand } from './audit-verify.command';

const KEY = 'cli-audit-key';

describe('keygate audit verify', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keygate-cli-audit-'));
    const sink = await AuditFileSink.open({
      dir,
      segmentBytes: 1 << 20,
      hmacKey: KEY,
      fsync: false,
    });
    for (let i = 0; i < 5; i++) {
      await sink.append([
        {
          request_id: `r${i}`,
          event: 'qwiet.token.issue',
          phase: 'attempt',
          actor: { subject: 'a', team: 't' },
          target: { vendor: 'qwiet' },
        },
      ]);
    }
    await sink.close();
  });

  it('says what it proved, and exits 0', () => {
    const { output, status } = auditVerifyCommand([dir], { AUDIT_HMAC_KEY: KEY });
    expect(status).toBe(0);
    expect(output).toContain(': OK');
    expect(output).toContain('records:  5 in 1 segment(s)');
    expect(output).toMatch(/first: +seq 1 at /);
    expect(output).toContain('head:     matches');
  });

  it('names the first altered record and exits 1 (JSON too)', () => {
    const copy = mkdtempSync(join(tmpdir(), 'keygate-cli-broken-'));
    const text = readFileSync(join(dir, segmentName(1)), 'utf8');
    writeFileSync(join(copy, segmentName(1)), text.replace('"r3"', '"rX"'));
    const { output, status } = auditVerifyCommand([copy, '--json'], {});
    expect(status).toBe(1);
    expect(JSON.parse(output)).toMatchObject({
      ok: false,
      problem: { kind: 'altered', seq: 4, line: 4 },
    });
  });

  it('exits 1 for a path that does not exist', () => {
    expect(auditVerifyCommand(['/nonexistent/audit'], {}).status).toBe(1);
  });
});
