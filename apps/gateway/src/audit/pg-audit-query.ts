import type { AuditRecord } from '@app/audit';
import { verifyLedgerStream } from '@app/ledger';
import type { Database, LedgerStreamVerifyResult } from '@app/ledger';
import type { AuditQueryDto } from './dto/audit-query.dto';

export interface PgAuditQuery extends Omit<AuditQueryDto, 'fingerprint'> {
  /** One fingerprint, or several (the current one and the one an earlier release wrote). */
  fingerprint?: string | string[];
}

/**
 * GET /v1/audit on PostgreSQL: the filters as SQL over the ledger's indexes, newest first, in
 * keyset pages (before_seq). Records are answered as their stored lines.
 */
export async function queryLedger(
  database: Database,
  q: PgAuditQuery,
): Promise<{ records: AuditRecord[]; next_before_seq?: number }> {
  const limit = q.limit ?? 100;
  const { text, values } = auditQuerySql(q, limit + 1);
  const { rows } = await database.query<{ line: string }>(text, values);
  const records = rows.slice(0, limit).map((r) => JSON.parse(r.line) as AuditRecord);
  return rows.length > limit
    ? { records, next_before_seq: records[records.length - 1].seq }
    : { records };
}

/**
 * The statement of an audit query. A fingerprint, a credential, a client id or a request names a few
 * records at most: their seqs are found by that filter's index first (an array computed once), then
 * read by seq, so the planner can never choose to walk the whole ledger newest first looking for
 * them (it did, by the statistics it had or had not: 4.4 s by fingerprint at 2,000,000 records
 * freshly imported, 0.5 s by credential id at 300,000 analysed).
 */
export function auditQuerySql(q: PgAuditQuery, rows: number): { text: string; values: unknown[] } {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    values.push(value);
    where.push(sql(`$${values.length}`));
  };
  // A filter that names a few records at most (by fingerprint, credential, Octane client id or
  // request) finds their seqs by its own index first, then reads them by seq.
  const few = (condition: (p: string) => string) => (p: string) =>
    `seq = ANY(ARRAY(SELECT seq FROM ledger_records WHERE ${condition(p)}))`;
  if (q.fingerprint !== undefined)
    add(
      few((p) => `fingerprint IS NOT NULL AND fingerprint = ANY(${p}::text[])`),
      Array.isArray(q.fingerprint) ? q.fingerprint : [q.fingerprint],
    );
  if (q.credential_id !== undefined)
    add(
      // The index holds ids as recorded: the spellings a caller may give (ids compare in any case).
      few(
        (p) =>
          `target ? 'credential_id' AND target ->> 'credential_id' IN (${p}, lower(${p}), upper(${p}))`,
      ),
      q.credential_id,
    );
  if (q.client_id !== undefined)
    add(
      few((p) => `target ? 'client_id' AND target ->> 'client_id' = ${p}`),
      q.client_id,
    );
  if (q.request_id !== undefined)
    add(
      few(
        (p) =>
          `(request_id IS NOT NULL AND request_id = ${p}) OR (caller_request_id IS NOT NULL AND caller_request_id = ${p})`,
      ),
      q.request_id,
    );
  if (q.before_seq !== undefined) add((p) => `seq < ${p}`, q.before_seq);
  if (q.from !== undefined) add((p) => `time >= ${p}`, new Date(q.from).toISOString());
  if (q.to !== undefined) add((p) => `time < ${p}`, new Date(q.to).toISOString());
  if (q.team !== undefined) add((p) => `actor ->> 'team' = ${p}`, q.team);
  if (q.subject !== undefined) add((p) => `actor ->> 'subject' = ${p}`, q.subject);
  if (q.event !== undefined) add((p) => `event = ${p}`, q.event);
  if (q.phase !== undefined) add((p) => `phase = ${p}`, q.phase);
  if (q.vendor !== undefined) add((p) => `target ->> 'vendor' = ${p}`, q.vendor);
  values.push(rows);
  return {
    text: `SELECT line FROM ledger_records ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY seq DESC LIMIT $${values.length}`,
    values,
  };
}

/**
 * GET /v1/audit/verify on PostgreSQL: `keygate audit verify --db`'s reader (verifyLedgerStream: one
 * snapshot, pages read with COPY by two sessions of the gateway's pool) with the pages hashed by a
 * worker thread, so the event loop only moves bytes and serves other requests meanwhile; it is
 * also given back between pages.
 */
export function verifyLedgerLive(
  database: Database,
  key: string,
): Promise<LedgerStreamVerifyResult> {
  return verifyLedgerStream(database, {
    key,
    sessions: 2,
    workers: 1,
    betweenPages: () => new Promise<void>((resolve) => setImmediate(resolve)),
  });
}
