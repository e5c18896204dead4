import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { AuditEntry, AuditRecord } from '@app/audit';
import type { Database } from '@app/ledger';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { AuditService } from '../audit/audit.service';
import { DATABASE } from '../database/database.tokens';
import { CredentialOwners } from '../policy/credential-owners';
import { LostAnswers } from './lost-answers';
import { CRASH_RECOVERY, openQuestion } from './open-question';

/** Recovery is one instance's at a time: this session advisory lock, on a dedicated connection. */
const RECOVERY_LOCK = 'keygate.recovery';

/**
 * Crash recovery: an attempt with no outcome means a process died between the vendor call and the
 * outcome record; an issuance that failed with a 5xx or a broken connection may have issued the
 * credential all the same. Each is asked about at the vendor and the result recorded.
 *
 * An instance cannot tell what a crash left from another instance's request still in flight, so
 * an open question is left to the instance that made the attempt: an attempt with no outcome
 * until it is RECOVERY_AFTER_MS old (the request has ended wherever it ran), a lost answer until
 * LOST_ANSWER_WINDOW_MS more have passed (its instance asks until then: LostAnswers.askUntil).
 * Then any instance takes it: at its start, and on a pass every RECOVERY_INTERVAL, one instance
 * at a time, asking once per pass. A credential found is revoked at once; "nothing issued" waits
 * until the vendor can no longer act (the window has passed).
 */
@Injectable()
export class IssuanceRecovery implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('IssuanceRecovery');
  private timer?: NodeJS.Timeout;
  private busy?: Promise<void>;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(DATABASE) private readonly database: Database,
    private readonly audit: AuditService,
    private readonly lost: LostAnswers,
    private readonly owners: CredentialOwners,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.pass(true);
    const every = this.config.recovery.intervalMs;
    if (every <= 0) return;
    this.timer = setInterval(() => {
      this.busy ??= this.pass(false).finally(() => (this.busy = undefined));
    }, every);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
  }

  /** One recovery pass, unless the ledger is down or another instance is in one. Never throws. */
  private async pass(atStart: boolean): Promise<void> {
    if (!this.audit.health().ok) return;
    try {
      const done = await this.database.exclusively(RECOVERY_LOCK, () => this.reconcile(atStart));
      if (done.ran && done.value.length > 0) {
        this.logger.warn(
          {
            reconciled: done.value.map((r) => ({
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
        'crash recovery could not finish; the next pass asks again',
      );
    }
  }

  /**
   * Attempts with no outcome (a crash), and issuances that failed in a way that may have issued the
   * credential (a 5xx, a broken connection, a timeout) whose lost answer was never settled. Each
   * one old enough is asked about at the vendor, once; what stays open (young, or the vendor may
   * still act, or did not answer) is asked about by the next pass, which starts at the lowest.
   */
  private async reconcile(atStart: boolean): Promise<AuditEntry[]> {
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
    const { recovery, lostAnswerWindowMs } = this.config;
    const afterMs = atStart ? recovery.atStartAfterMs : recovery.afterMs;
    const now = Date.now();
    for (const [, group] of byRequest) {
      const question = openQuestion(group);
      if (!question) continue;
      // Younger, it may still be its instance's: at the vendor, or its lost answer being asked about.
      const leftFor = question.why === CRASH_RECOVERY ? afterMs : lostAnswerWindowMs + afterMs;
      if (now - Date.parse(question.attempt.time) < leftFor) {
        open = Math.min(open, question.attempt.seq);
        continue;
      }
      // Read again just before asking: since the read above, another instance's pass may have
      // settled it, or its own instance recorded an outcome.
      const current = openQuestion(await this.audit.recordsOf(question.attempt.request_id));
      if (!current) continue;
      if (current.why !== question.why) {
        open = Math.min(open, question.attempt.seq);
        continue;
      }
      const { seq, prev_hash, time, hash, ...attempt } = question.attempt;
      const outcome = await this.lost.settle(attempt, undefined, {
        at: Date.parse(time),
        why: question.why,
        once: true,
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
