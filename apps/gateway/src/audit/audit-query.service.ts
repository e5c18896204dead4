import { Inject, Injectable } from '@nestjs/common';
import { AuditRecord, readRecordsNewestFirst, verifyAuditLog, VerifyResult } from '@app/audit';
import type { LedgerVerifyResult } from '@app/ledger';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { AuditService } from './audit.service';
import { queryLedger, verifyLedgerLive } from './pg-audit-query';
import type { AuditQueryDto } from './dto/audit-query.dto';

export interface AuditPage {
  records: AuditRecord[];
  /** Pass as before_seq for the next (older) page; absent on the last page. */
  next_before_seq?: number;
}

function matches(r: AuditRecord, q: AuditQueryDto): boolean {
  return (
    (q.before_seq === undefined || r.seq < q.before_seq) &&
    (q.from === undefined || r.time >= new Date(q.from).toISOString()) &&
    (q.to === undefined || r.time < new Date(q.to).toISOString()) &&
    (q.team === undefined || r.actor.team === q.team) &&
    (q.subject === undefined || r.actor.subject === q.subject) &&
    (q.event === undefined || r.event === q.event) &&
    (q.phase === undefined || r.phase === q.phase) &&
    (q.vendor === undefined || r.target.vendor === q.vendor) &&
    (q.credential_id === undefined ||
      r.target.credential_id?.toLowerCase() === q.credential_id.toLowerCase()) &&
    (q.request_id === undefined ||
      r.request_id === q.request_id ||
      r.caller_request_id === q.request_id) &&
    (q.client_id === undefined || r.target.client_id === q.client_id) &&
    (q.fingerprint === undefined || r.fingerprint === q.fingerprint)
  );
}

/** Auditors' reading of the log: filters, pages, fingerprint look-ups, chain verification. */
@Injectable()
export class AuditQueryService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly audit: AuditService,
  ) {}

  /** On PostgreSQL: SQL over the ledger's indexes; on the file log: the files, newest first. */
  async query(q: AuditQueryDto): Promise<AuditPage> {
    const ledger = this.audit.ledger;
    if (ledger) return queryLedger(ledger, q);
    return this.queryFiles(q);
  }

  private queryFiles(q: AuditQueryDto): AuditPage {
    const limit = q.limit ?? 100;
    const records: AuditRecord[] = [];
    for (const record of readRecordsNewestFirst(this.config.audit.dir)) {
      if (!matches(record, q)) continue;
      if (records.length === limit)
        return { records, next_before_seq: records[records.length - 1].seq };
      records.push(record);
    }
    return { records };
  }

  async byFingerprintOf(secret: string): Promise<{ fingerprint: string; records: AuditRecord[] }> {
    const fingerprint = this.audit.fingerprint(secret);
    return { fingerprint, records: (await this.query({ fingerprint, limit: 500 })).records };
  }

  /** The verifier over the live log, plus whether the log still ends where the writer last wrote. */
  async verify(): Promise<(VerifyResult | LedgerVerifyResult) & { live_seq: number }> {
    const ledger = this.audit.ledger;
    if (ledger) {
      // The chain up to the head as read first, in pages that give the event loop back.
      const live = this.audit.lastSeq;
      return { ...(await verifyLedgerLive(ledger, this.config.audit.hmacKey)), live_seq: live };
    }
    // Where the writer was before reading: records written meanwhile only make the files longer.
    const live = this.audit.lastSeq;
    const result = verifyAuditLog(this.config.audit.dir, this.config.audit.hmacKey);
    if (result.ok && (result.last?.seq ?? 0) < live) {
      return {
        ...result,
        ok: false,
        live_seq: live,
        problem: {
          kind: 'truncated',
          segment: '(live)',
          line: 0,
          seq: result.last?.seq,
          message: `the writer is at seq ${live} but the files end at seq ${result.last?.seq ?? 0}`,
        },
      };
    }
    return { ...result, live_seq: live };
  }
}
