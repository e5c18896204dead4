import { Inject, Injectable } from '@nestjs/common';
import type { AuditRecord } from '@app/audit';
import type { LedgerStreamVerifyResult } from '@app/ledger';
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

/** Auditors' reading of the ledger: filters, pages, fingerprint look-ups, chain verification (SQL). */
@Injectable()
export class AuditQueryService {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly audit: AuditService,
  ) {}

  /** SQL over the ledger's indexes, newest first, in keyset pages. */
  query(q: AuditQueryDto): Promise<AuditPage> {
    return queryLedger(this.audit.ledger, q);
  }

  async byFingerprintOf(secret: string): Promise<{ fingerprint: string; records: AuditRecord[] }> {
    const fingerprint = this.audit.fingerprint(secret);
    return { fingerprint, records: (await this.query({ fingerprint, limit: 500 })).records };
  }

  /** The chain from seq 1 to the head of one snapshot, hashed off the event loop (a worker). */
  async verify(): Promise<LedgerStreamVerifyResult & { live_seq: number }> {
    const live = this.audit.lastSeq;
    return {
      ...(await verifyLedgerLive(this.audit.ledger, this.config.audit.hmacKey)),
      live_seq: live,
    };
  }
}
