import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AuditRecord } from '@app/audit';
import type { Database } from '@app/ledger';
import type { NotifyWebhook } from '@app/policy';
import { CLOCK, Clock } from '../common/clock';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { DATABASE } from '../database/database.tokens';
import { PolicyStore } from '../policy/policy.store';
import { guardedLookup, refusedHost } from './webhook-address';

/** Deliveries are one instance's at a time: this session advisory lock, on a dedicated connection. */
const DELIVERY_LOCK = 'keygate.notify.deliver';

/** Events fanned out per statement, deliveries attempted per batch, batches per round: bounded. */
const FAN_OUT_BATCH = 1000;
const DELIVERY_BATCH = 100;
const MAX_BATCHES = 20;
/** Attempts in flight at once. */
const PARALLEL = 8;
/** Bytes of a receiver's answer read (and thrown away). */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * New outbox events -> one pending delivery per webhook target of the policy in force (those whose
 * `events` take it), due now; the events are marked fanned out in the same statement.
 */
const FAN_OUT_SQL = `
  WITH fresh AS (
    SELECT seq, event FROM notification_events WHERE fanned_out_at IS NULL
    ORDER BY seq LIMIT ${FAN_OUT_BATCH} FOR UPDATE
  ),
  made AS (
    INSERT INTO notification_deliveries (seq, target, url, created_at, next_attempt_at)
    SELECT f.seq, t.name, t.url, $2::timestamptz, $2::timestamptz
    FROM fresh f CROSS JOIN jsonb_to_recordset($1::jsonb) AS t(name text, url text, events text[])
    WHERE t.events IS NULL OR f.event = ANY (t.events)
    ON CONFLICT (seq, target) DO NOTHING
    RETURNING 1
  ),
  marked AS (
    UPDATE notification_events e SET fanned_out_at = $2::timestamptz
    FROM fresh f WHERE e.seq = f.seq RETURNING 1
  )
  SELECT (SELECT count(*) FROM marked)::int AS events, (SELECT count(*) FROM made)::int AS deliveries`;

/**
 * Deliveries due, in the order of index notification_deliveries_due, after the last one of the
 * previous batch ($2, $3: a keyset), with their event and ledger record.
 */
const DUE_SQL = `
  SELECT d.id, d.target, d.attempts, d.created_at, d.next_attempt_at, e.event_id, r.line
  FROM notification_deliveries d
  JOIN notification_events e ON e.seq = d.seq
  JOIN ledger_records r ON r.seq = d.seq
  WHERE d.status = 'pending' AND d.next_attempt_at <= $1::timestamptz
    AND (d.next_attempt_at, d.id) > ($2::timestamptz, $3::bigint)
  ORDER BY d.next_attempt_at, d.id LIMIT ${DELIVERY_BATCH}`;

const DELIVERED_SQL = `
  UPDATE notification_deliveries SET status = 'delivered', attempts = attempts + 1, url = $2,
    last_attempt_at = $3::timestamptz, delivered_at = $3::timestamptz, last_status = $4,
    last_error = NULL
  WHERE id = $1 AND status = 'pending'`;

const RETRY_SQL = `
  UPDATE notification_deliveries SET status = $5, attempts = attempts + 1, url = coalesce($2, url),
    last_attempt_at = $3::timestamptz, next_attempt_at = $6::timestamptz, last_status = $4,
    last_error = $7
  WHERE id = $1 AND status = 'pending'`;

interface Due {
  id: string;
  target: string;
  attempts: number;
  created_at: Date;
  next_attempt_at: Date;
  event_id: string;
  line: string;
}

export interface DeliveryReport {
  /** Outbox events fanned out to the targets of the policy in force. */
  events: number;
  /** Deliveries made of them (one per event and target). */
  created: number;
  attempted: number;
  delivered: number;
  /** Attempts that failed and will be retried. */
  retrying: number;
  /** Deliveries given up (NOTIFY_GIVE_UP_AFTER passed, or the target left the policy). */
  failed: number;
}

/** Another instance holds the delivery lock. */
export class DeliveryInProgress extends Error {
  override readonly name = 'DeliveryInProgress';
}

/** The JSON a receiver gets: the event, its stable id, and the ledger record it comes from. */
export function notificationBody(eventId: string, record: AuditRecord): string {
  const { seq, prev_hash: _prev, hash, time, event, phase: _phase, actor, ...rest } = record;
  void _prev;
  void _phase;
  return JSON.stringify({
    id: eventId,
    type: event,
    created_at: time,
    data: { ...rest, actor: { subject: actor.subject, team: actor.team } },
    ledger: { seq, hash },
  });
}

/** `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, as Stripe signs its webhooks. */
export function signatureHeader(secret: string, unixSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** What one attempt came to; `error` never carries a secret (status, or the transport error). */
interface Outcome {
  status?: number;
  error?: string;
}

/**
 * Delivers the outbox: fans new events out to the policy's webhook targets, then POSTs each due
 * delivery (signed, with the event's stable id), at least once: a failure is retried with
 * exponential backoff, capped and jittered, on the lifecycle clock, until NOTIFY_GIVE_UP_AFTER.
 * One instance at a time (an advisory lock); a delivery's row is updated before the lock is let
 * go, so no other instance sends it again.
 */
@Injectable()
export class DeliveryWorker {
  private readonly logger = new Logger('Notifications');
  private readonly inFlight = new Set<http.ClientRequest>();
  private stopping = false;

  constructor(
    @Inject(DATABASE) private readonly database: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly policy: PolicyStore,
  ) {}

  /** Ends the attempts under way (each recorded as failed, retried later). */
  stop(): void {
    this.stopping = true;
    for (const request of this.inFlight) request.destroy(new Error('the gateway is shutting down'));
  }

  async deliver(): Promise<DeliveryReport> {
    const done = await this.database.exclusively(DELIVERY_LOCK, () => this.round());
    if (!done.ran) throw new DeliveryInProgress('another instance is delivering');
    return done.value;
  }

  private async round(): Promise<DeliveryReport> {
    const report: DeliveryReport = {
      events: 0,
      created: 0,
      attempted: 0,
      delivered: 0,
      retrying: 0,
      failed: 0,
    };
    const webhooks = this.policy.policy.notify.webhooks;
    const targets = JSON.stringify(
      webhooks.map((w) => ({ name: w.name, url: w.url, events: w.events ?? null })),
    );
    for (let i = 0; i < MAX_BATCHES; i++) {
      const now = new Date(this.clock.now()).toISOString();
      const { rows } = await this.database.query<{ events: number; deliveries: number }>(
        FAN_OUT_SQL,
        [targets, now],
      );
      report.events += rows[0].events;
      report.created += rows[0].deliveries;
      if (rows[0].events < FAN_OUT_BATCH) break;
    }
    const byName = new Map(webhooks.map((w) => [w.name, w]));
    let after: Pick<Due, 'id' | 'next_attempt_at'> | undefined;
    for (let i = 0; i < MAX_BATCHES && !this.stopping; i++) {
      const now = new Date(this.clock.now());
      const { rows } = await this.database.query<Due>(DUE_SQL, [
        now.toISOString(),
        after?.next_attempt_at.toISOString() ?? '-infinity',
        after?.id ?? '0',
      ]);
      if (rows.length === 0) break;
      const queue = [...rows];
      await Promise.all(
        Array.from({ length: Math.min(PARALLEL, queue.length) }, async () => {
          for (let due = queue.shift(); due && !this.stopping; due = queue.shift())
            await this.attempt(due, byName.get(due.target), report);
        }),
      );
      after = rows[rows.length - 1];
      if (rows.length < DELIVERY_BATCH) break;
    }
    return report;
  }

  private async attempt(
    due: Due,
    webhook: NotifyWebhook | undefined,
    report: DeliveryReport,
  ): Promise<void> {
    report.attempted++;
    const now = this.clock.now();
    let outcome: Outcome;
    let url = '';
    if (!webhook) {
      outcome = { error: `target ${due.target} is no longer in the policy` };
    } else {
      url = webhook.url;
      const secret = this.config.notify.secrets[webhook.secret_env];
      if (secret === undefined) outcome = { error: `${webhook.secret_env} is not set` };
      else {
        const record = JSON.parse(due.line) as AuditRecord;
        const body = notificationBody(due.event_id, record);
        const t = Math.floor(now / 1000);
        outcome = await this.post(webhook.url, body, {
          'content-type': 'application/json',
          'user-agent': 'Keygate-Webhooks/1',
          'keygate-event-id': due.event_id,
          'keygate-event': record.event,
          'keygate-timestamp': String(t),
          'keygate-signature': signatureHeader(secret, t, body),
        });
      }
    }
    const at = new Date(now).toISOString();
    if (outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300) {
      await this.database.query(DELIVERED_SQL, [due.id, url, at, outcome.status]);
      report.delivered++;
      return;
    }
    const redirect = outcome.status !== undefined && outcome.status >= 300 && outcome.status < 400;
    const error =
      outcome.error ??
      (redirect
        ? `HTTP ${outcome.status}: a redirect, not followed (Keygate follows none)`
        : `HTTP ${outcome.status}`);
    const attempts = due.attempts + 1;
    const giveUp = !webhook || now - due.created_at.getTime() >= this.config.notify.giveUpAfterMs;
    const next = new Date(now + this.backoff(attempts)).toISOString();
    await this.database.query(RETRY_SQL, [
      due.id,
      url || null,
      at,
      outcome.status ?? null,
      giveUp ? 'failed' : 'pending',
      next,
      error.slice(0, 500),
    ]);
    if (giveUp) report.failed++;
    else report.retrying++;
    this.logger.warn(
      { event_id: due.event_id, target: due.target, attempts, error, gave_up: giveUp },
      'notification delivery failed',
    );
  }

  /** base * 2^(attempts-1), capped, then +-25% jitter so receivers coming back are not stampeded. */
  private backoff(attempts: number): number {
    const { backoffBaseMs, backoffCapMs } = this.config.notify;
    const exp = Math.min(backoffCapMs, backoffBaseMs * 2 ** Math.min(attempts - 1, 30));
    return Math.round(exp * (0.75 + Math.random() * 0.5));
  }

  /**
   * One POST, bounded by NOTIFY_TIMEOUT_MS from connect to the end of the answer; no redirects;
   * never to a link-local address (cloud metadata), named or resolved (webhook-address.ts).
   */
  private post(target: string, body: string, headers: Record<string, string>): Promise<Outcome> {
    const url = new URL(target);
    const refused = refusedHost(url.hostname);
    if (refused) return Promise.resolve({ error: refused.message });
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<Outcome>((resolve) => {
      const request = lib.request(url, {
        method: 'POST',
        agent: false,
        lookup: guardedLookup as unknown as http.RequestOptions['lookup'],
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      });
      this.inFlight.add(request);
      const timer = setTimeout(
        () => request.destroy(new Error(`timed out after ${this.config.notify.timeoutMs} ms`)),
        this.config.notify.timeoutMs,
      );
      const done = (outcome: Outcome) => {
        clearTimeout(timer);
        this.inFlight.delete(request);
        resolve(outcome);
      };
      request.on('error', (error: NodeJS.ErrnoException) =>
        done({
          error:
            error.code && !error.message.includes(error.code)
              ? `${error.message} (${error.code})`
              : error.message,
        }),
      );
      request.on('response', (response) => {
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) response.destroy();
        });
        response.on('close', () => done({ status: response.statusCode }));
        response.on('error', () => undefined);
      });
      request.end(body);
    });
  }
}
