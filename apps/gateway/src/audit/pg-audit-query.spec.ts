import { randomBytes } from 'node:crypto';
import { AuditRecord, chainLine, GENESIS_HASH } from '@app/audit';
import { appendChainedBatch, Database } from '@app/ledger';
import { useDatabase } from '../../../../test/support/db';
import { auditQuerySql, queryLedger } from './pg-audit-query';

const KEY = 'pg-audit-query-spec-key-long-enough-0123456789';
const RECORDS = 20_000;

/** A ledger of RECORDS outcomes, each with a fingerprint of its own; the fingerprints in order. */
async function fill(database: Database): Promise<string[]> {
  const fingerprints: string[] = [];
  const client = await database.pool.connect();
  try {
    let head: { seq: number; hash: string } | undefined;
    for (let done = 0; done < RECORDS;) {
      const records: AuditRecord[] = [];
      const lines: string[] = [];
      let prev = head?.hash ?? GENESIS_HASH;
      for (let i = 0; i < 5_000; i++, done++) {
        const seq = done + 1;
        const fingerprint = `hmac-sha256:${randomBytes(32).toString('hex')}`;
        fingerprints.push(fingerprint);
        const entry = {
          request_id: `req-${seq}`,
          event: 'qwiet.token.issue' as const,
          phase: 'succeeded' as const,
          actor: { subject: 'ci', team: `team-${seq % 7}` },
          target: { vendor: 'qwiet' as const, org_id: 'org', label: `l-${seq}` },
          fingerprint,
        };
        const time = new Date(Date.UTC(2025, 0, 1) + seq * 1000).toISOString();
        const { line, hash } = chainLine(seq, prev, time, entry);
        records.push({ seq, prev_hash: prev, time, ...entry, hash });
        lines.push(line.slice(0, -1));
        prev = hash;
      }
      if (!(await appendChainedBatch(client, KEY, head, records, lines))) throw new Error('moved');
      head = { seq: done, hash: prev };
    }
  } finally {
    client.release();
  }
  return fingerprints;
}

/**
 * GET /v1/audit's statements use the ledger's indexes whatever the table's statistics say: a
 * freshly imported ledger has none until autovacuum analyses it.
 */
describe('audit queries on PostgreSQL', () => {
  const db = useDatabase();
  let database: Database;
  let fingerprints: string[];
  beforeAll(async () => {
    database = await Database.connect({ url: db.url });
    fingerprints = await fill(database);
  });
  afterAll(async () => {
    await database.close();
  });

  it('finds the records of a fingerprint by its index, not by walking the ledger newest first', async () => {
    const oldest = fingerprints[0];
    const { text, values } = auditQuerySql({ fingerprint: oldest }, 2);
    const plan = (
      await database.query<{ 'QUERY PLAN': unknown }>(
        `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
        values,
      )
    ).rows[0]['QUERY PLAN'];
    const text_ = JSON.stringify(plan);
    expect(text_).toContain('ledger_records_fingerprint');
    // Rows read: a handful, never the ledger (RECORDS).
    const scanned = [...text_.matchAll(/"Actual Rows":(\d+)/g)].map((m) => Number(m[1]));
    expect(Math.max(...scanned)).toBeLessThan(100);
    const { records } = await queryLedger(database, { fingerprint: oldest });
    expect(records.map((r) => r.seq)).toEqual([1]);
  });
});
