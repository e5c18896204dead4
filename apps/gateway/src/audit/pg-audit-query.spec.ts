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
          target: {
            vendor: 'qwiet' as const,
            org_id: 'org',
            credential_id: `cred-${seq}`,
            label: `l-${seq}`,
          },
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

  /** Rows the plan of `q` reads at most (ANALYZE), and whether it used `index`. */
  const planOf = async (q: Parameters<typeof auditQuerySql>[0]) => {
    // LIMIT 2 (a page of one): the walk newest first looks cheapest to a planner that expects
    // many matches, which is what the statement must never leave it to choose.
    const { text, values } = auditQuerySql(q, 2);
    const plan = JSON.stringify(
      (
        await database.query<{ 'QUERY PLAN': unknown }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
          values,
        )
      ).rows[0]['QUERY PLAN'],
    );
    return {
      plan,
      rows: Math.max(...[...plan.matchAll(/"Actual Rows":(\d+)/g)].map((m) => Number(m[1]))),
    };
  };

  const oldest = () => ({
    fingerprint: fingerprints[0],
    credential_id: 'cred-1',
    request_id: 'req-1',
  });

  it('finds the records of a fingerprint, credential id or request by its index, with or without statistics, never by walking the ledger', async () => {
    const filters = [
      ['fingerprint', 'ledger_records_fingerprint'],
      ['credential_id', 'ledger_records_credential'],
      ['request_id', 'ledger_records_request'],
    ] as const;
    for (const analysed of [false, true]) {
      if (analysed) await database.query('ANALYZE ledger_records');
      for (const [filter, index] of filters) {
        const { plan, rows } = await planOf({ [filter]: oldest()[filter] });
        expect({ filter, analysed, index: plan.includes(index) }).toEqual({
          filter,
          analysed,
          index: true,
        });
        expect(rows).toBeLessThan(100); // a handful, never the ledger (RECORDS)
      }
    }
    for (const [filter] of filters) {
      const { records } = await queryLedger(database, { [filter]: oldest()[filter] });
      expect(records.map((r) => r.seq)).toEqual([1]);
    }
  });
});
