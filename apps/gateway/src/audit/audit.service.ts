import {
  Inject,
  Injectable,
  Logger,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
} from '@nestjs/common';
import {
  AuditEntry,
  AuditFileSink,
  AuditRecord,
  AuditUnavailableError,
  CREATING_EVENTS,
  fingerprint,
  readRecords,
  SECRET_ISSUING_EVENTS,
  SinkHealth,
} from '@app/audit';
import { ErrorCode, GatewayError } from '@app/common';
import { Database, PgLedgerSink } from '@app/ledger';
import pino, { Logger as PinoLogger } from 'pino';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { DATABASE } from '../database/database.tokens';
import { IssuanceCounter } from '../limits/issuance-counter';
import { MetricsService } from '../metrics/metrics.service';
import { CredentialOwners } from '../policy/credential-owners';

/** Attempts still without an answer (crash recovery, lost answers): each with its request's records. */
const DANGLING_SQL = `
  SELECT r.line FROM ledger_records r
  WHERE r.request_id IN (
    SELECT a.request_id FROM ledger_records a
    WHERE a.phase = 'attempt'
      AND NOT EXISTS (
        SELECT 1 FROM ledger_records o
        WHERE o.request_id = a.request_id
          AND (o.phase IN ('succeeded', 'denied', 'compensated')
               OR o.note ~ '^(lost answer|crash recovery):')))
  ORDER BY r.seq`;

/**
 * The audit log as the gateway uses it: durable writes that fail closed, fingerprints, health.
 * On PostgreSQL (DATABASE_URL set) the ledger is PgLedgerSink and nothing is read whole at
 * start-up: ownership, quotas and dangling attempts are indexed queries. Otherwise the file log.
 */
@Injectable()
export class AuditService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Audit');
  private sink!: AuditFileSink | PgLedgerSink;
  private stdout?: PinoLogger;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly owners: CredentialOwners,
    private readonly counter: IssuanceCounter,
    private readonly metrics: MetricsService,
    @Optional() @Inject(DATABASE) private readonly database: Database | null = null,
  ) {}

  /** The PostgreSQL ledger's database, or undefined on the file log. */
  get ledger(): Database | undefined {
    return this.database ?? undefined;
  }

  /** Where the records go: the store (PostgreSQL, its URL without password) or the directory. */
  get where(): string {
    return this.sink instanceof PgLedgerSink ? this.sink.store : this.config.audit.dir;
  }

  async onModuleInit(): Promise<void> {
    const { dir, hmacKey, segmentBytes, fsync, stdout } = this.config.audit;
    const observe = (batch: { records: number; writeSeconds: number; syncSeconds: number }) =>
      this.metrics.observeAuditBatch(batch);
    const sink = this.database
      ? await PgLedgerSink.open({ database: this.database, hmacKey, observe })
      : await AuditFileSink.open({ dir, hmacKey, segmentBytes, fsync, observe });
    this.sink = sink;
    if (stdout)
      this.stdout = pino(
        { base: undefined, messageKey: 'audit' },
        pino.transport({ target: 'pino/file', options: { destination: 1 } }),
      );
    const health = this.sink.health();
    if (!health.ok)
      this.logger.error(
        { sink: this.where, error: health.error },
        'audit log cannot be written: issuance and revocation are refused',
      );
    // On PostgreSQL nothing is read whole: ownership, quotas and recovery ask the database.
    if (sink instanceof PgLedgerSink) return;
    if (sink.repairedBytes > 0) {
      await this.write([
        {
          request_id: 'startup',
          event: 'audit.tail_repaired',
          phase: 'succeeded',
          actor: { subject: 'keygate', team: 'keygate' },
          target: { vendor: 'qwiet' },
          note: `cut ${sink.repairedBytes} bytes of a half-written last line (a crash mid-write; never acknowledged)`,
        },
      ]).catch(() => undefined);
    }
    if (health.ok) {
      const records = readRecords(dir);
      this.rememberOwners(records);
      this.countIssuances(records);
    }
  }

  /**
   * The records crash recovery and lost answers look at: every record of each request whose
   * attempt has no outcome that settles it. On PostgreSQL an indexed query; on the file log, all.
   */
  async recoveryRecords(): Promise<AuditRecord[]> {
    if (!this.database) return readRecords(this.config.audit.dir);
    const { rows } = await this.database.query<{ line: string }>(DANGLING_SQL);
    return rows.map((r) => JSON.parse(r.line) as AuditRecord);
  }

  /** After the server has stopped and finished its requests (Nest runs destroy hooks before that). */
  async onApplicationShutdown(): Promise<void> {
    await this.sink.close();
    this.stdout?.flush();
  }

  /** Writes records durably, in order; 503 AUDIT_UNAVAILABLE when the log cannot take them. */
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

  health(): SinkHealth & { store?: string } {
    return this.sink.health();
  }

  get lastSeq(): number {
    return this.sink.lastSeq;
  }

  /** The last hour's issuances, for the quotas. */
  private countIssuances(records: AuditRecord[]): void {
    for (const r of records) {
      if (r.phase === 'succeeded' && SECRET_ISSUING_EVENTS.has(r.event))
        this.counter.record(ownerOf(r), r.actor.subject, Date.parse(r.time));
    }
  }

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
