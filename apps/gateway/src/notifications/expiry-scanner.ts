import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { AuditEntry, AuditTarget } from '@app/audit';
import type { Database } from '@app/ledger';
import type { ExpiryThreshold } from '@app/policy';
import { AuditService } from '../audit/audit.service';
import { CLOCK, Clock } from '../common/clock';
import { DATABASE } from '../database/database.tokens';
import { PolicyStore } from '../policy/policy.store';

/** The scan is one instance's at a time: this session advisory lock, on a dedicated connection. */
const SCAN_LOCK = 'keygate.notify.scan';

/** Credentials per batch (one ledger batch each), and batches per scan: bounded work. */
const BATCH = 200;
const MAX_BATCHES = 25;

const COLUMNS = `c.vendor, c.scope, c.credential_id, c.client_id, c.name, c.token_type, c.owner_team,
  c.subject, c.expires_at`;

/** Active credentials past their expiry (index credentials_expiry). */
const EXPIRED_SQL = `
  SELECT ${COLUMNS} FROM credentials c
  WHERE c.status = 'active' AND c.expires_at <= $1::timestamptz
  ORDER BY c.expires_at, c.vendor, c.scope, c.credential_id LIMIT ${BATCH}`;

/**
 * Active credentials within a threshold ($2, seconds) of expiry that have no notice for one of the
 * thresholds they are within, with the thresholds already noticed (index credentials_expiry, then
 * the notices' primary key). Keyset ($3..$6) past the last one seen, so a batch that is not
 * written cannot be found again in the same scan.
 */
const EXPIRING_SQL = `
  SELECT ${COLUMNS},
         array(SELECT n.threshold_seconds FROM expiry_notices n
               WHERE n.vendor = c.vendor AND n.scope = c.scope
                 AND n.credential_id = c.credential_id) AS noticed
  FROM credentials c
  WHERE c.status = 'active' AND c.expires_at > $1::timestamptz
    AND c.expires_at <= $1::timestamptz + make_interval(secs => (SELECT max(s) FROM unnest($2::int[]) s))
    AND (c.expires_at, c.vendor, c.scope, c.credential_id) > ($3::timestamptz, $4::text, $5::text, $6::text)
    AND EXISTS (
      SELECT 1 FROM unnest($2::int[]) t(s)
      WHERE c.expires_at <= $1::timestamptz + make_interval(secs => t.s)
        AND NOT EXISTS (SELECT 1 FROM expiry_notices n
                        WHERE n.vendor = c.vendor AND n.scope = c.scope
                          AND n.credential_id = c.credential_id AND n.threshold_seconds = t.s))
  ORDER BY c.expires_at, c.vendor, c.scope, c.credential_id LIMIT ${BATCH}`;

const NOTICES_SQL = `
  INSERT INTO expiry_notices (vendor, scope, credential_id, threshold_seconds, seq)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[])
  ON CONFLICT DO NOTHING`;

interface Row {
  vendor: 'qwiet' | 'octane';
  scope: string;
  credential_id: string;
  client_id: string | null;
  name: string | null;
  token_type: string | null;
  owner_team: string;
  subject: string;
  expires_at: Date;
  noticed?: number[];
}

export interface ScanReport {
  /** credential.expired records written (the inventory status follows). */
  expired: number;
  /** credential.expiring records written. */
  expiring: number;
}

/** Another instance holds the scan's lock. */
export class ScanInProgress extends Error {
  override readonly name = 'ScanInProgress';
}

/** Keygate's own decisions are recorded with this actor. */
const KEYGATE = { subject: 'keygate', team: 'keygate' };

const targetOf = (row: Row): AuditTarget => ({
  vendor: row.vendor,
  ...(row.vendor === 'qwiet' ? { org_id: row.scope } : { shared_space_id: row.scope }),
  credential_id: row.credential_id,
  owner_team: row.owner_team,
  ...(row.name !== null && (row.vendor === 'qwiet' ? { label: row.name } : { name: row.name })),
  ...(row.client_id !== null && { client_id: row.client_id }),
  ...(row.token_type !== null && { token_type: row.token_type }),
  expires_at: row.expires_at.toISOString(),
});

/**
 * Finds credentials near or past their recorded expiry and writes the ledger records that say so:
 * `credential.expired` for an active credential past it (the inventory status follows in the same
 * statement), and one `credential.expiring` per (credential, policy threshold) ever, the nearest
 * threshold crossed when several are (expiry_notices keeps which were written). The records'
 * notifications go to the outbox with them (PgLedgerSink). One instance at a time.
 */
@Injectable()
export class ExpiryScanner {
  constructor(
    @Inject(DATABASE) private readonly database: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly policy: PolicyStore,
  ) {}

  async scan(): Promise<ScanReport> {
    const done = await this.database.exclusively(SCAN_LOCK, async () => {
      const now = new Date(this.clock.now());
      const expired = await this.expired(now);
      const expiring = await this.expiring(now, this.policy.policy.notify.thresholds);
      return { expired, expiring };
    });
    if (!done.ran) throw new ScanInProgress('another instance is scanning');
    return done.value;
  }

  private async expired(now: Date): Promise<number> {
    let written = 0;
    for (let i = 0; i < MAX_BATCHES; i++) {
      const { rows } = await this.database.query<Row>(EXPIRED_SQL, [now.toISOString()]);
      if (rows.length === 0) break;
      await this.audit.write(
        rows.map((row) => ({
          ...entry('credential.expired', row),
          note: `expired at ${row.expires_at.toISOString()}`,
        })),
      );
      written += rows.length;
      if (rows.length < BATCH) break;
    }
    return written;
  }

  private async expiring(now: Date, thresholds: readonly ExpiryThreshold[]): Promise<number> {
    if (thresholds.length === 0) return 0;
    const seconds = thresholds.map((t) => t.seconds);
    let after: Row | undefined;
    let written = 0;
    for (let i = 0; i < MAX_BATCHES; i++) {
      const { rows } = await this.database.query<Row>(EXPIRING_SQL, [
        now.toISOString(),
        seconds,
        after?.expires_at.toISOString() ?? '-infinity',
        after?.vendor ?? '',
        after?.scope ?? '',
        after?.credential_id ?? '',
      ]);
      if (rows.length === 0) break;
      const notices = rows.map((row) => {
        const left = (row.expires_at.getTime() - now.getTime()) / 1000;
        // Thresholds crossed with no notice yet (smallest last: thresholds are largest first).
        const due = thresholds.filter(
          (t) => left <= t.seconds && !row.noticed?.includes(t.seconds),
        );
        return { row, due, nearest: due[due.length - 1] };
      });
      const records = await this.audit.write(
        notices.map(({ row, nearest }) => ({
          ...entry('credential.expiring', row),
          expiry: { threshold: nearest.label, threshold_seconds: nearest.seconds },
          note: `expires within ${nearest.label}, at ${row.expires_at.toISOString()}`,
        })),
      );
      // Written after the records: a crash between the two can repeat a notice (at least once),
      // never lose one.
      const cols: [string[], string[], string[], number[], number[]] = [[], [], [], [], []];
      notices.forEach(({ row, due }, k) => {
        for (const t of due) {
          cols[0].push(row.vendor);
          cols[1].push(row.scope);
          cols[2].push(row.credential_id);
          cols[3].push(t.seconds);
          cols[4].push(records[k].seq);
        }
      });
      await this.database.query(NOTICES_SQL, cols);
      written += rows.length;
      after = rows[rows.length - 1];
      if (rows.length < BATCH) break;
    }
    return written;
  }
}

function entry(event: 'credential.expired' | 'credential.expiring', row: Row): AuditEntry {
  return {
    request_id: `notify-${randomUUID()}`,
    event,
    phase: 'succeeded',
    actor: KEYGATE,
    target: targetOf(row),
  };
}
