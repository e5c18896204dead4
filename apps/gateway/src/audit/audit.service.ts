import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import {
  AuditEntry,
  AuditRead,
  AuditRecord,
  AuditUnavailableError,
  CREATING_EVENTS,
  fingerprint,
} from '@app/audit';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError, SETTLING_NOTE } from '@app/common';
import { Database, PgLedgerSink, PgSinkHealth } from '@app/ledger';
import pino, { Logger as PinoLogger } from 'pino';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { DATABASE } from '../database/database.tokens';
import { MetricsService } from '../metrics/metrics.service';
import { CredentialOwners } from '../policy/credential-owners';
import { RequestMeta, requestEntry } from './request-meta';

/** Attempts still without an answer (crash recovery, lost answers): each with its request's records. */
const DANGLING_SQL = `
  SELECT r.line FROM ledger_records r
  WHERE r.request_id IN (
    SELECT a.request_id FROM ledger_records a
    WHERE a.phase = 'attempt'
      AND a.seq >= coalesce((SELECT seq FROM recovery_watermark), 0)
      AND NOT EXISTS (
        SELECT 1 FROM ledger_records o
        WHERE o.request_id = a.request_id
          AND (o.phase IN ('succeeded', 'denied', 'compensated')
               OR o.note ~ '${SETTLING_NOTE}')))
  ORDER BY r.seq`;

/**
 * The audit ledger as the gateway uses it: durable writes that fail closed, fingerprints, health.
 * The ledger is PostgreSQL (PgLedgerSink), the one store: nothing is read whole at start-up;
 * ownership, quotas and dangling attempts are indexed queries.
 */
@Injectable()
export class AuditService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Audit');
  private sink!: PgLedgerSink;
  private stdout?: PinoLogger;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly owners: CredentialOwners,
    private readonly metrics: MetricsService,
    @Inject(DATABASE) private readonly database: Database,
  ) {}

  /** The ledger's database. */
  get ledger(): Database {
    return this.database;
  }

  /** Where the records go: the store (PostgreSQL, its URL without password). */
  get where(): string {
    return this.sink.store;
  }

  async onModuleInit(): Promise<void> {
    const { hmacKey, stdout } = this.config.audit;
    this.sink = await PgLedgerSink.open({
      database: this.database,
      hmacKey,
      observe: (batch) => this.metrics.observeAuditBatch(batch),
    });
    if (stdout)
      this.stdout = pino(
        { base: undefined, messageKey: 'audit' },
        pino.transport({ target: 'pino/file', options: { destination: 1 } }),
      );
    const health = this.sink.health();
    if (!health.ok)
      this.logger.error(
        { sink: this.where, error: health.error },
        'audit ledger cannot be written: issuance and revocation are refused',
      );
  }

  /** Every record of one request, in order (index ledger_records_request). */
  async recordsOf(requestId: string): Promise<AuditRecord[]> {
    const { rows } = await this.database.query<{ line: string }>(
      'SELECT line FROM ledger_records WHERE request_id = $1 ORDER BY seq',
      [requestId],
    );
    return rows.map((r) => JSON.parse(r.line) as AuditRecord);
  }

  /**
   * The records crash recovery and lost answers look at: every record of each request whose
   * attempt has no outcome that settles it, from the recovery watermark on (an indexed query that
   * reads no history), and the ledger's head when it was asked.
   */
  async recoveryRecords(): Promise<{ records: AuditRecord[]; head: number }> {
    // The head first: an attempt after it may be another instance's request still in flight.
    const head = await this.database.query<{ seq: string }>('SELECT seq FROM ledger_head');
    const { rows } = await this.database.query<{ line: string }>(DANGLING_SQL);
    return {
      records: rows.map((r) => JSON.parse(r.line) as AuditRecord),
      head: Number(head.rows[0]?.seq ?? 0),
    };
  }

  /**
   * Crash recovery has settled every attempt below `seq` (or found it needs nothing): later
   * passes start there. Only ever moves up.
   */
  async settledBelow(seq: number): Promise<void> {
    await this.database.query(
      `INSERT INTO recovery_watermark (id, seq) VALUES (true, $1)
       ON CONFLICT (id) DO UPDATE SET seq = greatest(recovery_watermark.seq, EXCLUDED.seq)`,
      [seq],
    );
  }

  /** After the server has stopped and finished its requests (Nest runs destroy hooks before that). */
  async onApplicationShutdown(): Promise<void> {
    await this.sink.close();
    this.stdout?.flush();
  }

  /** Writes records durably, in order; 503 AUDIT_UNAVAILABLE when the ledger cannot take them. */
  async write(entries: AuditEntry[]): Promise<AuditRecord[]> {
    let records: AuditRecord[];
    try {
      records = await this.sink.append(entries);
    } catch (error) {
      if (!(error instanceof AuditUnavailableError)) throw error;
      this.logger.error({ sink: this.where, error: error.message }, 'audit write failed');
      throw new GatewayError(
        503,
        ErrorCode.AUDIT_UNAVAILABLE,
        'the audit log cannot be written: Keygate refuses to issue or revoke until it can',
      );
    }
    for (const record of records) this.stdout?.info(record);
    this.rememberOwners(records);
    return records;
  }

  fingerprint(secret: string): string {
    return fingerprint(this.config.audit.hmacKey, secret);
  }

  /**
   * A read of the ledger or the inventory by an auditor or an admin, recorded (audit.read: who,
   * what was asked; never a secret). Best effort: when the ledger cannot be written the read still
   * answers (an incident is when auditors need it most), and the failure is logged.
   */
  async recordRead(caller: Caller, meta: RequestMeta, read: AuditRead): Promise<void> {
    await this.write([
      { ...requestEntry(caller, meta), event: 'audit.read', phase: 'succeeded', target: {}, read },
    ]).catch((error: unknown) =>
      this.logger.warn(
        { error: (error as Error).message, read: read.kind },
        'a read could not be recorded in the audit log',
      ),
    );
  }

  health(): PgSinkHealth {
    return this.sink.health();
  }

  /**
   * While the ledger's end does not match its head (a gap found at start-up), checks it again:
   * an operator's `keygate audit accept-loss --db` is picked up without a restart.
   */
  async recheck(): Promise<void> {
    if (!this.sink.health().gap) return;
    if (await this.sink.recheck().catch(() => false))
      this.logger.log(
        { sink: this.where },
        'audit ledger end matches its head again: changes resume',
      );
  }

  /** Stores a checkpoint of the ledger's end in the database (the start-up check requires it). */
  storeCheckpoint(): Promise<void> {
    return this.sink.checkpoint();
  }

  get lastSeq(): number {
    return this.sink.lastSeq;
  }

  /** What this instance issued: its owner is known without asking the inventory (it never changes). */
  private rememberOwners(records: Iterable<AuditRecord>): void {
    for (const r of records) {
      if (r.phase !== 'succeeded' || !CREATING_EVENTS.has(r.event) || !r.target.credential_id)
        continue;
      const scope = r.target.org_id ?? r.target.shared_space_id ?? '';
      this.owners.record(r.target.vendor, scope, r.target.credential_id, ownerOf(r));
    }
  }
}

/** The team that owns what a record issued: the owning team named in it, else the actor's. */
const ownerOf = (r: AuditRecord): string => r.target.owner_team ?? r.actor.team;
