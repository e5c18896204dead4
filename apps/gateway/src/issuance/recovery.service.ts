import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AuditEntry, AuditRecord } from '@app/audit';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { AuditService } from '../audit/audit.service';
import { CredentialOwners } from '../policy/credential-owners';
import { LostAnswers } from './lost-answers';
import { openQuestion } from './open-question';

/**
 * Recovery at start-up: an attempt with no outcome means the process died between the vendor call
 * and the outcome record; an issuance that failed with a 5xx or a broken connection may have issued
 * the credential all the same. Each is reconciled against the vendor (CredentialReconciler) and
 * the result recorded.
 */
@Injectable()
export class IssuanceRecovery implements OnApplicationBootstrap {
  private readonly logger = new Logger('IssuanceRecovery');

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly audit: AuditService,
    private readonly lost: LostAnswers,
    private readonly owners: CredentialOwners,
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

  /**
   * Attempts with no outcome (a crash), and issuances that failed in a way that may have issued the
   * credential (a 5xx, a broken connection, a timeout) whose lost answer was never settled. Each is
   * asked about at the vendor; what the vendor may still do (the window after the attempt has not
   * passed) goes on being asked in the background.
   */
  async reconcile(): Promise<AuditEntry[]> {
    // Only the requests an indexed query finds dangling after the watermark: no history is read.
    const { records, head } = await this.audit.recoveryRecords();
    // The lowest attempt still open after this pass: the next one starts there.
    let open = head + 1;
    const byRequest = new Map<string, AuditRecord[]>();
    for (const r of records) {
      const group = byRequest.get(r.request_id);
      if (group) group.push(r);
      else byRequest.set(r.request_id, [r]);
    }
    const known = new Set(
      records.map((r) => r.target.credential_id).filter((id): id is string => id !== undefined),
    );
    const outcomes: AuditEntry[] = [];
    for (const [, group] of byRequest) {
      const question = openQuestion(group);
      if (!question) continue;
      const { seq, prev_hash, time, hash, ...attempt } = question.attempt;
      const outcome = await this.lost.settle(attempt, undefined, {
        at: Date.parse(time),
        why: question.why,
        isRecorded: (id) =>
          known.has(id) ||
          this.owners.ownerOf(
            attempt.target.vendor,
            attempt.target.org_id ?? attempt.target.shared_space_id ?? '',
            id,
          ) !== undefined,
      });
      if (!outcome) {
        open = Math.min(open, question.attempt.seq);
        continue;
      }
      if (outcome.target.credential_id) known.add(outcome.target.credential_id);
      outcomes.push(outcome);
    }
    await this.audit.settledBelow(open);
    return outcomes;
  }
}
