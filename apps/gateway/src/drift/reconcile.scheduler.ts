import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { CLOCK, Clock } from '../common/clock';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { PassInProgress, Reconciler } from './reconciler.service';

/** How often (wall time) the schedule looks at the clock: at most this late after a pass falls due. */
const TICK_MS = 1000;

/**
 * A reconciliation pass every RECONCILE_INTERVAL on the lifecycle clock (tests move it): a timer
 * looks at the clock every second and starts a pass once the interval has passed since this
 * instance's last look that ran or found one running. Instances take turns through the pass's
 * advisory lock, and a pass any instance ran less than an interval ago (the ledger's last
 * drift.pass) is not run again. RECONCILE_INTERVAL=0 or off: no timer (POST /v1/reconcile only).
 */
@Injectable()
export class ReconcileScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Reconciler');
  private timer?: NodeJS.Timeout;
  private due = 0;
  private busy?: Promise<unknown>;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly reconciler: Reconciler,
  ) {}

  onApplicationBootstrap(): void {
    const interval = this.config.reconcileIntervalMs;
    if (interval <= 0) return;
    this.due = this.clock.now() + interval;
    this.timer = setInterval(() => this.tick(), Math.min(TICK_MS, interval));
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.busy;
  }

  private tick(): void {
    if (this.busy || this.clock.now() < this.due) return;
    this.busy = this.reconciler
      .run('schedule')
      .then(
        () => undefined,
        (error: unknown) => {
          if (!(error instanceof PassInProgress))
            this.logger.error({ error: (error as Error).message }, 'drift: the pass failed');
        },
      )
      .finally(() => {
        this.due = this.clock.now() + this.config.reconcileIntervalMs;
        this.busy = undefined;
      });
  }
}
