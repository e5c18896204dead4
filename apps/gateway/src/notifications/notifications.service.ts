import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleDestroy,
} from '@nestjs/common';
import { ErrorCode, GatewayError } from '@app/common';
import type { Database } from '@app/ledger';
import { CLOCK, Clock } from '../common/clock';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { DATABASE } from '../database/database.tokens';
import { DeliveryInProgress, DeliveryReport, DeliveryWorker } from './delivery-worker';
import { ExpiryScanner, ScanInProgress, ScanReport } from './expiry-scanner';
import type { NotificationsQueryDto } from './dto/notifications-query.dto';

/** How often (wall time) the schedule looks at the clock. */
const TICK_MS = 1000;

export interface RunReport {
  /** The expiry scan, or why it did not run. */
  scan: ScanReport | { skipped: string };
  delivery: DeliveryReport | { skipped: string };
}

export interface NotificationDelivery {
  id: number;
  event_id: string;
  event: string;
  /** The ledger record of the event. */
  seq: number;
  /** The credential it is about, when it is about one. */
  credential?: { vendor: string; scope: string; credential_id: string };
  target: string;
  url: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  created_at: string;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: string | null;
}

export interface NotificationsPage {
  deliveries: NotificationDelivery[];
  /** Pass as before_id for the next (older) page; absent on the last page. */
  next_before_id?: number;
}

const LIST_SQL = `
  SELECT d.id, e.event_id, e.event, d.seq, d.target, d.url, d.status, d.attempts, d.created_at,
         d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error, d.delivered_at,
         r.target ->> 'vendor' AS vendor,
         coalesce(r.target ->> 'org_id', r.target ->> 'shared_space_id') AS scope,
         r.target ->> 'credential_id' AS credential_id
  FROM notification_deliveries d
  JOIN notification_events e ON e.seq = d.seq
  JOIN ledger_records r ON r.seq = d.seq
  WHERE ($1::text IS NULL OR d.status = $1) AND ($2::text IS NULL OR e.event = $2)
    AND ($3::text IS NULL OR d.target = $3) AND ($4::bigint IS NULL OR d.id < $4)
  ORDER BY d.id DESC LIMIT $5`;

interface ListRow {
  id: string;
  event_id: string;
  event: string;
  seq: string;
  target: string;
  url: string;
  status: NotificationDelivery['status'];
  attempts: number;
  created_at: Date;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  vendor: string | null;
  scope: string | null;
  credential_id: string | null;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/**
 * Notifications: expiry scans every NOTIFY_SCAN_INTERVAL and outbox deliveries every
 * NOTIFY_DELIVERY_INTERVAL, on the lifecycle clock (a timer looks at it every second; tests move
 * it), each one instance at a time across instances (advisory locks); `run` does both now
 * (POST /v1/notifications/run); `list` reads the deliveries (GET /v1/notifications).
 */
@Injectable()
export class NotificationsService
  implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown
{
  private readonly logger = new Logger('Notifications');
  private timer?: NodeJS.Timeout;
  private scanDue = 0;
  private deliveryDue = 0;
  private busy?: Promise<unknown>;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DATABASE) private readonly database: Database,
    private readonly scanner: ExpiryScanner,
    private readonly worker: DeliveryWorker,
  ) {}

  onApplicationBootstrap(): void {
    const { scanIntervalMs, deliveryIntervalMs } = this.config.notify;
    if (scanIntervalMs <= 0 && deliveryIntervalMs <= 0) return;
    const now = this.clock.now();
    this.scanDue = now + scanIntervalMs;
    this.deliveryDue = now;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  /** Before the ledger and the database close: no new round, attempts under way ended. */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.worker.stop();
    await this.busy;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.busy;
  }

  /** A scan and a delivery round now (another instance's running one is reported, not waited for). */
  async run(): Promise<RunReport> {
    while (this.busy) await this.busy;
    const work = this.both(true, true);
    this.busy = work.catch(() => undefined).finally(() => (this.busy = undefined));
    return this.unavailable(work, 'the notifications could not be run now');
  }

  async list(q: NotificationsQueryDto): Promise<NotificationsPage> {
    const limit = q.limit ?? 100;
    const { rows } = await this.unavailable(
      this.database.query<ListRow>(LIST_SQL, [
        q.status ?? null,
        q.event ?? null,
        q.target ?? null,
        q.before_id ?? null,
        limit + 1,
      ]),
      'the notifications cannot be read now',
    );
    const page = rows.slice(0, limit).map((r): NotificationDelivery => ({
      id: Number(r.id),
      event_id: r.event_id,
      event: r.event,
      seq: Number(r.seq),
      ...(r.vendor &&
        r.credential_id && {
          credential: { vendor: r.vendor, scope: r.scope ?? '', credential_id: r.credential_id },
        }),
      target: r.target,
      url: r.url,
      status: r.status,
      attempts: r.attempts,
      created_at: r.created_at.toISOString(),
      next_attempt_at: r.status === 'pending' ? iso(r.next_attempt_at) : null,
      last_attempt_at: iso(r.last_attempt_at),
      last_status: r.last_status,
      last_error: r.last_error,
      delivered_at: iso(r.delivered_at),
    }));
    return {
      deliveries: page,
      ...(rows.length > limit && { next_before_id: page[page.length - 1].id }),
    };
  }

  /**
   * The database failing answers 503 AUDIT_UNAVAILABLE (logged; never a raw database error to the
   * caller); a mistake of Keygate's own stays a 500, a GatewayError (the ledger's 503) passes.
   */
  private async unavailable<T>(work: Promise<T>, message: string): Promise<T> {
    try {
      return await work;
    } catch (error) {
      if (
        error instanceof GatewayError ||
        error instanceof TypeError ||
        error instanceof RangeError
      )
        throw error;
      this.logger.error({ error: (error as Error).message }, message);
      throw new GatewayError(503, ErrorCode.AUDIT_UNAVAILABLE, `${message}: try again`);
    }
  }

  private tick(): void {
    if (this.busy) return;
    const now = this.clock.now();
    const { scanIntervalMs, deliveryIntervalMs } = this.config.notify;
    const scan = scanIntervalMs > 0 && now >= this.scanDue;
    const deliver = deliveryIntervalMs > 0 && now >= this.deliveryDue;
    if (!scan && !deliver) return;
    this.busy = this.both(scan, deliver)
      .catch((error: unknown) =>
        this.logger.error({ error: (error as Error).message }, 'notifications: the run failed'),
      )
      .finally(() => {
        // After a failure too: the next try waits an interval (a database that is down is not
        // asked every second).
        if (scan) this.scanDue = this.clock.now() + scanIntervalMs;
        if (deliver) this.deliveryDue = this.clock.now() + deliveryIntervalMs;
        this.busy = undefined;
      });
  }

  /** The scan first, so what it finds is delivered in the same run. */
  private async both(scan: boolean, deliver: boolean): Promise<RunReport> {
    const skipped = { skipped: 'not due' };
    let scanned: RunReport['scan'] = skipped;
    if (scan) {
      try {
        scanned = await this.scanner.scan();
      } catch (error) {
        if (!(error instanceof ScanInProgress)) throw error;
        scanned = { skipped: error.message };
      }
    }
    let delivery: RunReport['delivery'] = skipped;
    if (deliver) {
      try {
        delivery = await this.worker.deliver();
      } catch (error) {
        if (!(error instanceof DeliveryInProgress)) throw error;
        delivery = { skipped: error.message };
      }
    }
    return { scan: scanned, delivery };
  }
}
