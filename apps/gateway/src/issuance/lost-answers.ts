import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { AuditEntry } from '@app/audit';
import { AuditService } from '../audit/audit.service';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { CredentialOwners } from '../policy/credential-owners';
import type { LostAnswerContext, SentSecret } from './operation';
import { OperationsRegistry } from './operations.registry';

/** Checks that fail (vendor down) are asked again this many times once the window has passed. */
const TRIES_AFTER_WINDOW = 6;

/**
 * Settles what a lost answer or a crash left unknown: a vendor that failed, broke the connection or
 * timed out may have acted all the same, now or later (a slow vendor finishes after Keygate gave
 * up). The vendor is asked at once and again with backoff until `LOST_ANSWER_WINDOW_MS` after the
 * attempt has surely passed; only then is "nothing found" recorded as "nothing issued". What is
 * still open is then left to crash recovery (IssuanceRecovery), whose passes take it over; this
 * instance stops asking before they may (see askUntil), so a request is never asked about twice.
 */
@Injectable()
export class LostAnswers implements OnApplicationShutdown {
  private readonly logger = new Logger('LostAnswers');
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly audit: AuditService,
    private readonly operations: OperationsRegistry,
    private readonly owners: CredentialOwners,
  ) {}

  /**
   * Asks the vendor now; resolves with what the first check recorded (undefined while the question
   * stays open: asked again in the background, unless `once`, for crash recovery, whose next pass
   * asks).
   */
  settle(
    attempt: AuditEntry,
    secret?: SentSecret,
    options: {
      at?: number;
      why?: string;
      isRecorded?: (id: string) => boolean;
      once?: boolean;
    } = {},
  ): Promise<AuditEntry | undefined> {
    const from = options.at ?? Date.now();
    const scope = attempt.target.org_id ?? attempt.target.shared_space_id ?? '';
    const ctx = {
      isRecorded:
        options.isRecorded ??
        ((id: string) => this.owners.ownerOf(attempt.target.vendor, scope, id) !== undefined),
      secret,
      window: { from, to: from + this.config.lostAnswerWindowMs },
      askUntil: options.once ? 0 : this.askUntil(from),
    };
    return this.check(attempt, ctx, options.why ?? 'lost answer', 1, 0);
  }

  private async check(
    attempt: AuditEntry,
    ctx: Omit<LostAnswerContext, 'final'> & { askUntil: number },
    why: string,
    tries: number,
    failedAfterWindow: number,
  ): Promise<AuditEntry | undefined> {
    if (this.closed) return undefined;
    const final = Date.now() >= ctx.window.to;
    let failed = failedAfterWindow;
    try {
      const op = this.operations.of(attempt.event);
      if (!op) return undefined;
      const found = await op.findLost(attempt, { ...ctx, final });
      if (found.kind === 'settled') {
        const record: AuditEntry = {
          ...attempt,
          phase: found.phase,
          vendor: undefined,
          fingerprint: undefined,
          ...found.extra,
          target: { ...attempt.target, ...found.extra?.target },
          note: `${why}: ${found.note}`,
        };
        await this.audit.write([record]);
        return record;
      }
    } catch (error) {
      if (final) failed++;
      const again = failed < TRIES_AFTER_WINDOW;
      this.logger.warn(
        {
          request_id: attempt.request_id,
          event: attempt.event,
          tries,
          error: (error as Error).message,
        },
        again
          ? 'could not yet settle an answer the vendor may have acted on; asking again'
          : 'gave up settling an answer the vendor may have acted on; a recovery pass asks again',
      );
      if (!again) return undefined;
    }
    this.later(() => void this.check(attempt, ctx, why, tries + 1, failed), ctx, tries);
    return undefined;
  }

  /**
   * The last moment this instance asks about an answer it lost at `from`: crash recovery passes
   * take a lost answer once its attempt (at most a request deadline before `from`) is
   * LOST_ANSWER_WINDOW_MS + RECOVERY_AFTER_MS old, and a check takes up to a deadline; this
   * instance's last check has ended before that.
   */
  private askUntil(from: number): number {
    const { lostAnswerWindowMs, recovery, transport } = this.config;
    return from + lostAnswerWindowMs + recovery.afterMs - 2 * transport.deadlineMs;
  }

  /**
   * Backoff: a quarter of the window at first (at most 1 s), doubling, and once at the window's
   * end; none past askUntil (crash recovery's passes ask from then on).
   */
  private later(
    run: () => void,
    ctx: { window: { from: number; to: number }; askUntil: number },
    tries: number,
  ) {
    const window = ctx.window.to - ctx.window.from;
    const step = Math.max(50, Math.min(1000, window / 4)) * 2 ** (tries - 1);
    const untilEnd = ctx.window.to - Date.now();
    const delay = untilEnd > 0 ? Math.min(step, untilEnd) : step;
    if (Date.now() + delay > ctx.askUntil) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }

  /** Undoes a success the log cannot show (the outcome could not be written): revokes it. */
  async compensate(outcome: AuditEntry, undo: () => Promise<unknown>): Promise<void> {
    try {
      await undo();
      await this.audit.write([
        {
          ...outcome,
          phase: 'compensated',
          note: 'the outcome could not be recorded: Keygate revoked the credential',
        },
      ]);
    } catch {
      this.logger.error(
        {
          request_id: outcome.request_id,
          event: outcome.event,
          credential_id: outcome.target.credential_id,
        },
        'compensation incomplete: check the vendor for this credential',
      );
    }
  }

  onApplicationShutdown(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
