import { Inject, Injectable } from '@nestjs/common';
import type { AuditRecord } from '@app/audit';
import type { Database } from '@app/ledger';
import { DATABASE } from '../database/database.tokens';
import type { PassSummary } from './drift.types';

/** At most this many findings are answered per pass (the pass's totals count them all). */
const FINDINGS_PER_PASS = 1000;

export interface DriftPass {
  seq: number;
  time: string;
  pass: PassSummary;
  /** The pass's records and those of the revocations it asked for, in ledger order. */
  findings: AuditRecord[];
  /** More findings than answered (see the pass's totals and GET /v1/audit?request_id=). */
  findings_truncated?: boolean;
}

/** GET /v1/drift: drift.pass records (keyset pages by seq) and the records each pass wrote (SQL). */
@Injectable()
export class DriftQueryService {
  constructor(@Inject(DATABASE) private readonly database: Database) {}

  async passes(
    limit: number,
    beforeSeq?: number,
  ): Promise<{ passes: DriftPass[]; next_before_seq?: number }> {
    const { rows } = await this.database.query<{ line: string }>(
      `SELECT line FROM ledger_records WHERE event = 'drift.pass' AND seq < $1
       ORDER BY seq DESC LIMIT $2`,
      [beforeSeq ?? Number.MAX_SAFE_INTEGER, limit + 1],
    );
    const records = rows
      .slice(0, limit)
      .map((r) => JSON.parse(r.line) as AuditRecord & { drift: PassSummary });
    const passes: DriftPass[] = [];
    for (const record of records) {
      const found = await this.database.query<{ line: string }>(
        `SELECT line FROM ledger_records
         WHERE (request_id = $1 OR caller_request_id = $1) AND event <> 'drift.pass'
         ORDER BY seq LIMIT $2`,
        [record.request_id, FINDINGS_PER_PASS + 1],
      );
      const findings = found.rows.map((r) => JSON.parse(r.line) as AuditRecord);
      passes.push({
        seq: record.seq,
        time: record.time,
        pass: record.drift,
        findings: findings.slice(0, FINDINGS_PER_PASS),
        ...(findings.length > FINDINGS_PER_PASS && { findings_truncated: true }),
      });
    }
    return {
      passes,
      ...(rows.length > limit && { next_before_seq: records[records.length - 1].seq }),
    };
  }
}
