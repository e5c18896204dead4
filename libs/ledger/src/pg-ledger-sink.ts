import type { PoolClient } from 'pg';
import {
  AuditEntry,
  AuditRecord,
  AuditUnavailableError,
  chainLine,
  CREATING_EVENTS,
  GENESIS_HASH,
  GroupCommit,
  headMac,
} from '@app/audit';
import type { SinkHealth } from '@app/audit';
import { NOTIFICATION_EVENTS } from '@app/common';
import type { CredentialStatus } from '@app/common';
import type { Database } from './database';
import { checkLedgerEnd, storeCheckpoint } from './ledger-end';
import type { LedgerGap } from './ledger-end';

export interface PgLedgerSinkOptions {
  database: Database;
  /** AUDIT_HMAC_KEY: the head's MAC is made under a key derived from it for that purpose alone. */
  hmacKey: string;
  /** Told of every batch committed: its records, and the seconds the transaction took. */
  observe?: (batch: { records: number; writeSeconds: number; syncSeconds: number }) => void;
}

export interface PgSinkHealth extends SinkHealth {
  /** The store, named by DATABASE_URL without its password. */
  store: string;
  /** The ledger's end does not match its MAC'd head (or its latest checkpoint): changes refused. */
  gap?: LedgerGap;
}

/** The ledger's end does not match its head: refused until an operator accepts the loss. */
class LedgerGapError extends Error {
  override readonly name = 'LedgerGapError';
}

interface Head {
  seq: number;
  hash: string;
}

/** One change to the inventory made by a batch (the last one wins per credential). */
interface InventoryChange {
  op: 'issue' | 'regenerate' | 'revoke' | 'compensate' | 'status';
  /** op 'status': the credential's new status. */
  status?: CredentialStatus;
  vendor: string;
  scope: string;
  credential_id: string;
  client_id: string | null;
  name: string | null;
  role_ids: string[];
  token_type: string | null;
  owner_team: string;
  subject: string;
  at: string;
  expires_at: string | null;
  fingerprint: string | null;
  seq: number;
}

const REVOKING_EVENTS = new Set(['qwiet.token.revoke', 'octane.api_access.revoke']);

/** The lifecycle events that set a credential's status (on their `succeeded` record). */
const STATUS_EVENTS: ReadonlyMap<string, CredentialStatus> = new Map<string, CredentialStatus>([
  ['credential.revocation_verified', 'revoked'],
  ['credential.revocation_unverified', 'revoke_unverified'],
  ['credential.revocation_still_unverified', 'revoke_unverified'],
  ['credential.expired', 'expired'],
  ['drift.revoked_outside', 'revoked_outside'],
]);

/** The inventory change a record makes, if any. */
function inventoryChange(r: AuditRecord): InventoryChange | undefined {
  const t = r.target;
  if (!t?.vendor || !t.credential_id) return undefined;
  let op: InventoryChange['op'] | undefined;
  if (r.phase === 'compensated') op = 'compensate';
  else if (r.phase === 'succeeded') {
    if (CREATING_EVENTS.has(r.event)) op = 'issue';
    else if (r.event === 'octane.api_access.regenerate') op = 'regenerate';
    else if (REVOKING_EVENTS.has(r.event)) op = 'revoke';
    else if (STATUS_EVENTS.has(r.event)) op = 'status';
  }
  if (!op) return undefined;
  return {
    op,
    ...(op === 'status' && { status: STATUS_EVENTS.get(r.event) }),
    vendor: t.vendor,
    scope: t.org_id ?? t.shared_space_id ?? '',
    credential_id: t.credential_id.toLowerCase(),
    client_id: t.client_id ?? null,
    name: t.label ?? t.name ?? null,
    role_ids: t.role_ids ?? [],
    token_type: t.token_type ?? null,
    owner_team: t.owner_team ?? r.actor.team,
    subject: r.actor.subject,
    at: r.time,
    expires_at: typeof t.expires_at === 'string' ? t.expires_at : null,
    fingerprint: r.fingerprint ?? null,
    seq: r.seq,
  };
}

const changeKey = (change: InventoryChange) =>
  `${change.vendor}/${change.scope}/${change.credential_id}`;

/** The inventory row a record changes (vendor/scope/credential id), if it changes one. */
export function inventoryKeyOf(record: AuditRecord): string | undefined {
  const change = inventoryChange(record);
  return change && changeKey(change);
}

/** The notification events as SQL literals (constants of @app/common, never input). */
const NOTIFICATION_EVENTS_SQL = NOTIFICATION_EVENTS.map((e) => `'${e}'`).join(', ');

/**
 * One statement, so one round trip and one commit: moves the head from $1 (compare-and-swap; or
 * creates it when the ledger is empty), and only if it moved inserts the records, applies the
 * inventory changes and puts each notification event's record in the outbox (its event id from
 * its seq and hash). The foreign keys are checked at the statement's end, over all of it.
 */
function batchStatement(first: boolean): string {
  const head = first
    ? `INSERT INTO ledger_head (id, seq, hash, mac) SELECT true, $2::bigint, $3::text, $4::text
         WHERE $1::bigint = 0 AND NOT EXISTS (SELECT 1 FROM ledger_head) ON CONFLICT (id) DO NOTHING RETURNING seq`
    : `UPDATE ledger_head SET seq = $2::bigint, hash = $3::text, mac = $4::text,
         updated_at = now() WHERE id AND seq = $1::bigint RETURNING seq`;
  return `WITH head AS (${head}),
  recs AS (
    INSERT INTO ledger_records (seq, prev_hash, hash, time, request_id, caller_request_id, event,
                                phase, actor, target, decision, vendor, fingerprint, note, line)
    SELECT r.* FROM unnest($5::bigint[], $6::text[], $7::text[], $8::timestamptz[], $9::text[],
                           $10::text[], $11::text[], $12::text[], $13::jsonb[], $14::jsonb[],
                           $15::jsonb[], $16::jsonb[], $17::text[], $18::text[], $19::text[]) AS r
    WHERE EXISTS (SELECT 1 FROM head)
    RETURNING seq
  ),
  changes AS (
    SELECT c.*, CASE c.op WHEN 'revoke' THEN 'revoked' WHEN 'regenerate' THEN 'active'
                          WHEN 'status' THEN c.status END AS new_status
    FROM jsonb_to_recordset($20::jsonb) AS c(
      op text, status text, vendor text, scope text, credential_id text, client_id text, name text,
      role_ids text[], token_type text, owner_team text, subject text, at timestamptz,
      expires_at timestamptz, fingerprint text, seq bigint)
    WHERE EXISTS (SELECT 1 FROM head)
  ),
  created AS (
    INSERT INTO credentials (vendor, scope, credential_id, client_id, name, role_ids, token_type,
                             owner_team, subject, created_at, expires_at, status, fingerprint,
                             issued_seq, updated_seq, status_seq)
    SELECT vendor, scope, credential_id, client_id, name, role_ids, token_type, owner_team,
           subject, at, expires_at, CASE op WHEN 'compensate' THEN 'compensated' ELSE 'active' END,
           fingerprint, seq, seq, seq
    FROM changes WHERE op IN ('issue', 'compensate')
    ON CONFLICT (vendor, scope, credential_id) DO UPDATE SET
      status = CASE WHEN EXCLUDED.status = 'compensated' THEN 'compensated'
                    ELSE credentials.status END,
      status_seq = CASE WHEN EXCLUDED.status = 'compensated' AND credentials.status <> 'compensated'
                        THEN EXCLUDED.status_seq ELSE credentials.status_seq END,
      updated_seq = EXCLUDED.updated_seq
    RETURNING 1
  ),
  changed AS (
    UPDATE credentials SET
      fingerprint = CASE WHEN c.op = 'regenerate' THEN coalesce(c.fingerprint, credentials.fingerprint)
                         ELSE credentials.fingerprint END,
      status = c.new_status,
      -- Read from the row as it is when this statement holds its lock (another instance's status
      -- committed meanwhile included): unchanged when the status was already this one.
      status_seq = CASE WHEN credentials.status IS DISTINCT FROM c.new_status THEN c.seq
                        ELSE credentials.status_seq END,
      revoked_at = CASE WHEN c.op = 'revoke' THEN c.at
                        WHEN c.op = 'regenerate' THEN NULL
                        WHEN c.op = 'status' AND c.status = 'revoked_outside'
                          THEN coalesce(credentials.revoked_at, c.at)
                        ELSE credentials.revoked_at END,
      revoked_by = CASE WHEN c.op = 'revoke' THEN c.subject
                        WHEN c.op = 'regenerate' THEN NULL ELSE credentials.revoked_by END,
      verified_at = CASE WHEN c.op IN ('revoke', 'regenerate') THEN NULL
                         WHEN c.op = 'status' AND c.status = 'revoked' THEN c.at
                         WHEN c.op = 'status' THEN NULL ELSE credentials.verified_at END,
      last_checked_at = CASE WHEN c.op = 'status' THEN c.at ELSE credentials.last_checked_at END,
      updated_seq = c.seq
    FROM changes c
    WHERE c.op IN ('regenerate', 'revoke', 'status') AND credentials.vendor = c.vendor
      AND credentials.scope = c.scope AND credentials.credential_id = c.credential_id
    RETURNING c.seq, credentials.status_seq IS NOT DISTINCT FROM c.seq AS moved
  ),
  outbox AS (
    INSERT INTO notification_events (seq, event_id, event)
    SELECT o.seq, 'evt_' || o.seq || '_' || left(o.hash, 16), o.event
    FROM unnest($5::bigint[], $7::text[], $11::text[], $12::text[]) AS o(seq, hash, event, phase)
    WHERE EXISTS (SELECT 1 FROM head) AND o.phase = 'succeeded'
      AND o.event IN (${NOTIFICATION_EVENTS_SQL})
      -- A status record that found its credential already in that status is no news (the row's
      -- status before this batch, or an earlier record of the batch: $21).
      AND o.seq NOT IN (SELECT seq FROM changed WHERE NOT moved)
      AND NOT o.seq = ANY($21::bigint[])
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM head)::int AS moved, (SELECT count(*) FROM recs)::int AS inserted,
         (SELECT count(*) FROM created)::int + (SELECT count(*) FROM changed)::int AS inventory`;
}

const FIRST_BATCH_STATEMENT = batchStatement(true);
const BATCH_STATEMENT = batchStatement(false);

/**
 * Appends chained records (and the inventory changes they make) as one statement: moves the head
 * from `head` to the last record by compare-and-swap (creates it on an empty ledger), inserts the
 * records with their exact `lines` (without the newline), and applies the inventory rules. False
 * when the head was not at `head` (nothing written). Used by PgLedgerSink and by `keygate audit
 * import`, so both keep the inventory by the same rules.
 */
export async function appendChainedBatch(
  client: PoolClient,
  hmacKey: string,
  head: { seq: number; hash: string } | undefined,
  records: AuditRecord[],
  lines: string[],
): Promise<boolean> {
  const last = records[records.length - 1];
  const seq = last.seq;
  const prev = last.hash;
  const changes = new Map<string, InventoryChange>();
  // Status records repeating the status an earlier record of this batch gave their credential: no
  // news (kept in the ledger, no notification; the earlier record's change stands).
  const repeated: number[] = [];
  for (const r of records) {
    const change = inventoryChange(r);
    if (!change) continue;
    const key = changeKey(change);
    const before = changes.get(key);
    if (change.op === 'status' && before && statusAfter(before) === change.status) {
      repeated.push(change.seq);
      continue;
    }
    // An issuance and its compensation in one batch: the row is created compensated.
    changes.set(
      key,
      before?.op === 'issue' && change.op !== 'issue'
        ? { ...before, op: change.op === 'compensate' ? 'compensate' : 'issue', seq: change.seq }
        : change,
    );
  }
  const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
  const first = head === undefined;
  const { rows } = await client.query<{ moved: number; inserted: number }>({
    // Prepared once per session (by name): a batch then sends its values only, and PostgreSQL
    // neither parses nor plans the statement again.
    name: first ? 'keygate_ledger_first_batch' : 'keygate_ledger_batch',
    text: first ? FIRST_BATCH_STATEMENT : BATCH_STATEMENT,
    values: [
      head?.seq ?? 0,
      seq,
      prev,
      headMac(hmacKey, seq, prev),
      records.map((r) => r.seq),
      records.map((r) => r.prev_hash),
      records.map((r) => r.hash),
      records.map((r) => r.time),
      records.map((r) => r.request_id ?? null),
      records.map((r) => r.caller_request_id ?? null),
      records.map((r) => r.event),
      records.map((r) => r.phase),
      records.map((r) => json(r.actor)),
      records.map((r) => json(r.target)),
      records.map((r) => json(r.decision)),
      records.map((r) => json(r.vendor)),
      records.map((r) => r.fingerprint ?? null),
      records.map((r) => r.note ?? null),
      lines,
      JSON.stringify([...changes.values()]),
      repeated,
    ],
  });
  return rows[0].moved === 1;
}

/** The status a change leaves its credential in. */
function statusAfter(change: InventoryChange): CredentialStatus | undefined {
  switch (change.op) {
    case 'issue':
    case 'regenerate':
      return 'active';
    case 'compensate':
      return 'compensated';
    case 'revoke':
      return 'revoked';
    case 'status':
      return change.status;
  }
}

const describe = (error: unknown): string => {
  const e = error as { code?: string; message?: string; errors?: unknown[] };
  const message = e.message || (e.errors?.[0] as Error | undefined)?.message || String(error);
  return e.code && !message.includes(e.code) ? `${message} (${e.code})` : message;
};

/** How often a batch recomputes its records after another instance moved the head, before it locks. */
const OPTIMISTIC_TRIES = 3;
/** Bounded: a batch that cannot find a head to build on after this many rounds fails (closed). */
const LOCKED_TRIES = 5;

/**
 * The audit ledger on PostgreSQL, with AuditFileSink's contract: append(entries) resolves with the
 * chained records once they are committed (synchronous_commit on); appends of one event-loop turn,
 * and those arriving while a batch is in flight, share one transaction (group commit); any database
 * error rejects the batch with AuditUnavailableError and turns health() red naming the store, and
 * the next append tries again.
 *
 * One chain across instances: a batch is one statement that moves ledger_head by compare-and-swap
 * from the head it built on and inserts its records only if the head moved; when another instance
 * moved it first, the batch is built again on the new head (after a few tries, under the head's row
 * lock). Each record's `line` is chainLine(seq, prev_hash, time, entry), the bytes its hash covers.
 */
export class PgLedgerSink {
  private client?: PoolClient;
  private head?: Head;
  private broken = false;
  private readonly commits = new GroupCommit(
    (entries) => this.write(entries),
    (error) => {
      this.fail(error);
      return new AuditUnavailableError(
        `audit ledger ${this.store} cannot be written (${describe(error)})`,
      );
    },
  );
  private failure?: { error: string; since: string };
  /** Found by the end check (at start-up, or a reconnect): every write refused until it is accepted. */
  private gap?: LedgerGap;
  /** The last point stored as a checkpoint by this sink. */
  private checkpointed = 0;
  /** Transactions that committed records: fewer than appends when group commit works. */
  batches = 0;
  /** Batches built again because another instance had moved the head. */
  conflicts = 0;

  private constructor(private readonly options: PgLedgerSinkOptions) {}

  /** Connects and reads the head; a database that does not answer leaves the sink failed, not thrown. */
  static async open(options: PgLedgerSinkOptions): Promise<PgLedgerSink> {
    const sink = new PgLedgerSink(options);
    try {
      await sink.connect();
    } catch (error) {
      sink.fail(error);
    }
    return sink;
  }

  get store(): string {
    return `PostgreSQL ${this.options.database.safeUrl}`;
  }

  health(): PgSinkHealth {
    return {
      ok: this.failure === undefined,
      store: this.store,
      file: this.store,
      seq: this.head?.seq ?? 0,
      ...(this.head && { last: { seq: this.head.seq, hash: this.head.hash } }),
      error: this.failure?.error,
      since: this.failure?.since,
      ...(this.gap && { gap: this.gap }),
    };
  }

  /** The last seq this instance knows of (another instance may have written since). */
  get lastSeq(): number {
    return this.head?.seq ?? 0;
  }

  /** The chain's end as this instance last wrote or read it (seq 0 before the first record). */
  position(): { seq: number; hash: string } {
    return { seq: this.head?.seq ?? 0, hash: this.head?.hash ?? GENESIS_HASH };
  }

  /** The head moves in each batch's own statement: nothing to wait for beyond the batches queued. */
  async flushHead(): Promise<void> {
    await this.commits.settled();
  }

  append(entries: AuditEntry[]): Promise<AuditRecord[]> {
    return this.commits.append(entries);
  }

  /**
   * While a gap keeps writes refused: checks the ledger's end again (a few indexed rows, on the
   * pool), so a loss accepted by an operator is picked up without a restart. True when sound now.
   */
  async recheck(): Promise<boolean> {
    if (!this.gap) return this.failure === undefined;
    const { gap } = await checkLedgerEnd(this.options.database, this.options.hmacKey);
    if (gap) {
      this.gap = gap;
      if (this.failure) this.failure.error = gap.message;
      return false;
    }
    // The next write reads the head again on its session.
    this.gap = undefined;
    this.failure = undefined;
    return true;
  }

  /** Stores a checkpoint of the last record written (read) here, which the start-up check requires. */
  async checkpoint(onSession = false): Promise<void> {
    const point = this.head;
    if (!point || this.gap || point.seq === this.checkpointed) return;
    const runner = onSession && this.client ? this.client : this.options.database;
    await storeCheckpoint(runner, this.options.hmacKey, point);
    this.checkpointed = point.seq;
  }

  async close(): Promise<void> {
    await this.commits.settled();
    // The last point, witnessed in the database too (on the sink's own session: the pool may be closing).
    if (this.client) await this.checkpoint(true).catch(() => undefined);
    this.client?.release();
    this.client = undefined;
  }

  /** A session of its own, synchronous_commit on, and the head it will build on. */
  private async connect(): Promise<PoolClient> {
    if (this.client && this.broken) {
      // The session broke while idle (the server restarted, an administrator ended it): nothing
      // was sent on it, so a new one is taken without failing the batch.
      this.client.release(new Error('the ledger session broke while idle'));
      this.client = undefined;
      this.head = undefined;
    }
    if (this.client && this.head) return this.client;
    if (!this.client) {
      this.broken = false;
      const client = await this.options.database.pool.connect();
      try {
        await client.query("SET synchronous_commit = 'on'");
      } catch (error) {
        client.release(error as Error);
        throw error;
      }
      // A connection that breaks while idle reports here: replaced before the next batch.
      client.on('error', () => {
        if (this.client === client) this.broken = true;
      });
      this.client = client;
    }
    // The end against the MAC'd head and the latest checkpoint: a few indexed rows, no history.
    const end = await checkLedgerEnd(this.client, this.options.hmacKey);
    this.gap = end.gap;
    if (end.gap) throw new LedgerGapError(end.gap.message);
    this.head = end.head;
    return this.client;
  }

  /** The head as stored, its MAC checked: a head that is not ours is an incident, not a start. */
  private async readHead(client: PoolClient, lock = false): Promise<Head | undefined> {
    const { rows } = await client.query<{ seq: string; hash: string; mac: string }>(
      `SELECT seq, hash, mac FROM ledger_head${lock ? ' FOR UPDATE' : ''}`,
    );
    if (rows.length === 0) return undefined;
    const head = { seq: Number(rows[0].seq), hash: rows[0].hash };
    if (headMac(this.options.hmacKey, head.seq, head.hash) !== rows[0].mac)
      throw new Error(
        `the ledger head (seq ${head.seq}) does not carry this deployment's MAC: it was not written by Keygate with AUDIT_HMAC_KEY`,
      );
    return head;
  }

  private async write(entries: AuditEntry[]): Promise<AuditRecord[]> {
    const started = process.hrtime.bigint();
    const client = await this.connect();
    let records: AuditRecord[] | undefined;
    for (let i = 0; i < OPTIMISTIC_TRIES && !records; i++) {
      records = await this.tryBatch(client, this.head, entries);
      if (!records) {
        this.conflicts++;
        this.head = await this.readHead(client);
      }
    }
    for (let i = 0; i < LOCKED_TRIES && !records; i++) {
      // Busy: build under the head's row lock, where the compare-and-swap cannot lose.
      await client.query('BEGIN');
      try {
        this.head = await this.readHead(client, true);
        records = await this.tryBatch(client, this.head, entries);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
    if (!records)
      throw new Error('the ledger head kept moving: the batch could not be chained on it');
    this.batches++;
    this.failure = undefined;
    this.options.observe?.({
      records: records.length,
      writeSeconds: Number(process.hrtime.bigint() - started) / 1e9,
      syncSeconds: 0,
    });
    return records;
  }

  /** One statement; undefined when the head was not where the batch was built (nothing written). */
  private async tryBatch(
    client: PoolClient,
    head: Head | undefined,
    entries: AuditEntry[],
  ): Promise<AuditRecord[] | undefined> {
    let seq = head?.seq ?? 0;
    let prev = head?.hash ?? GENESIS_HASH;
    const records: AuditRecord[] = [];
    const lines: string[] = [];
    for (const entry of entries) {
      const time = new Date().toISOString();
      const { line, hash } = chainLine(++seq, prev, time, entry);
      records.push({ seq, prev_hash: prev, time, ...entry, hash });
      lines.push(line.endsWith('\n') ? line.slice(0, -1) : line);
      prev = hash;
    }
    if (!(await appendChainedBatch(client, this.options.hmacKey, head, records, lines)))
      return undefined;
    this.head = { seq, hash: prev };
    return records;
  }

  private fail(error: unknown): void {
    const message = describe(error);
    if (this.failure?.error !== message)
      this.failure = { error: message, since: new Date().toISOString() };
    // The session may be broken: the next append starts on a new one and reads the head again.
    if (!(error instanceof LedgerGapError))
      this.client?.release(error instanceof Error ? error : new Error(message));
    else this.client?.release();
    this.client = undefined;
    this.head = undefined;
  }
}
