import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AuditEntry, readRecords } from '@app/audit';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { AuditService } from './audit.service';
import { CredentialReconciler } from './credential-reconciler';

/**
 * Crash recovery at start-up: an attempt with no outcome means the process died between the
 * vendor call and the outcome record. Each is reconciled against the vendor (CredentialReconciler)
 * and its outcome recorded.
 */
@Injectable()
export class AuditRecovery implements OnApplicationBootstrap {
  private readonly logger = new Logger('AuditRecovery');

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly audit: AuditService,
    private readonly reconciler: CredentialReconciler,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.audit.health().ok) return;
    try {
      const reconciled = await this.reconcile();
      if (reconciled.length > 0) {
        this.logger.warn(
          {
            reconciled: reconciled.map((r) => ({
              request_id: r.request_id,
              phase: r.phase,
              note: r.note,
            })),
          },
          'reconciled attempts a crash left without an outcome',
        );
      }
    } catch (error) {
      this.logger.error(
        { error: (error as Error).message },
        'crash recovery could not finish; it runs again at the next start',
      );
    }
  }

  async reconcile(): Promise<AuditEntry[]> {
    const records = readRecords(this.config.audit.dir);
    const settled = new Set(records.filter((r) => r.phase !== 'attempt').map((r) => r.request_id));
    const known = new Set(
      records.map((r) => r.target.credential_id).filter((id): id is string => id !== undefined),
    );
    const outcomes: AuditEntry[] = [];
    for (const { seq, prev_hash, time, hash, ...attempt } of records.filter(
      (r) => r.phase === 'attempt' && !settled.has(r.request_id),
    )) {
      const outcome = await this.reconciler.reconcile(
        attempt,
        (id) => known.has(id),
        'crash recovery',
      );
      await this.audit.write([outcome]);
      if (outcome.target.credential_id) known.add(outcome.target.credential_id);
      outcomes.push(outcome);
    }
    return outcomes;
  }
}
