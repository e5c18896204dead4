import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { AuditActor, AuditEntry, AuditTarget } from '@app/audit';
import type { Database } from '@app/ledger';
import type { PoolClient } from 'pg';
import { AuditService } from '../audit/audit.service';
import { CLOCK, Clock } from '../common/clock';
import { DATABASE } from '../database/database.tokens';
import type { AnyOperation, RevocationCheck } from './operation';
import { OperationsRegistry } from './operations.registry';

/** What the caller of a revocation is told about its first check (header X-Keygate-Revocation). */
export type Verification = 'verified' | 'unverified' | 'pending';

export const REVOCATION_HEADER = 'X-Keygate-Revocation';

/** Keygate itself, for the checks it repeats on its own. */
export const SYSTEM_ACTOR: AuditActor = { subject: 'keygate', team: 'keygate' };

/** The caller's answer waits this long at most for the first check; it goes on in the background. */
export const FIRST_CHECK_WAIT_MS = 2_000;
/** Retries: 1 min after the first check, doubling, at most an hour apart (on the CLOCK). */
export const RETRY_FIRST_MS = 60_000;
export const RETRY_MAX_MS = 60 * 60_000;
/** How often (wall time) an instance looks for retries that are due on the CLOCK. */
const TICK_MS = 15_000;
/** Retries taken per pass (each row locked, FOR UPDATE SKIP LOCKED: other instances skip it). */
const BATCH = 25;

export const retryDelayMs = (attempts: number): number =>
  Math.min(RETRY_FIRST_MS * 2 ** Math.max(0, attempts - 1), RETRY_MAX_MS);

interface CheckRow {
  vendor: 'qwiet' | 'octane';
  scope: string;
  credential_id: string;
  request_id: string;
  attempts: number;
  status: string | null;
  verified_at: Date | null;
}

const DUE_SQL = `
  SELECT r.vendor, r.scope, r.credential_id, r.request_id, r.attempts, c.status, c.verified_at
  FROM revocation_checks r
  LEFT JOIN credentials c
    ON c.vendor = r.vendor AND c.scope = r.scope AND c.credential_id = r.credential_id
  WHERE r.next_at <= $1
  ORDER BY r.next_at
  LIMIT ${BATCH}
  FOR UPDATE OF r SKIP LOCKED`;

const KEY = 'vendor = $1 AND scope = $2 AND credential_id = $3';

/** A revocation left unchecked this long (its first check never ran) is scheduled by a pass. */
const UNCHECKED_AFTER_MS = 5 * 60_000;

/**
 * Revoked in the inventory, never verified, and not scheduled: the first check never ran (the
 * process stopped between the revocation's outcome and its check). The revocation's request is
 * the record that last changed the row.
 */
const UNCHECKED_SQL = `
  INSERT INTO revocation_checks (vendor, scope, credential_id, request_id, attempts, first_at,
                                 next_at, last_error)
  SELECT c.vendor, c.scope, c.credential_id,
         coalesce((SELECT r.request_id FROM ledger_records r WHERE r.seq = c.updated_seq), ''),
         1, $1, $1, 'never checked'
  FROM credentials c
  WHERE c.status = 'revoked' AND c.verified_at IS NULL AND c.revoked_at < $2
    AND NOT EXISTS (SELECT 1 FROM revocation_checks x WHERE x.vendor = c.vendor
                    AND x.scope = c.scope AND x.credential_id = c.credential_id)
  LIMIT ${BATCH}
  ON CONFLICT DO NOTHING`;

/**
 * Verified revocation: after a revocation the vendor reported done, Keygate asks the vendor whether
 * the credential still works (the revoke operation's verifyRevoked) and records
 * credential.revocation_verified or credential.revocation_unverified (the inventory's status
 * follows in the record's statement: revoked with verified_at, or revoke_unverified). An
 * unverified one is checked again with backoff (revocation_checks, on the CLOCK) until the vendor
 * shows it gone; the unverified record is written once, when it becomes unverified (it raises the
 * notification), the verified one when it is finally verified.
 */
@Injectable()
export class RevocationVerifier implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RevocationVerifier');
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  constructor(
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DATABASE) private readonly database: Database,
    private readonly operations: OperationsRegistry,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(
      () =>
        void this.retryDue().catch((error: unknown) =>
          this.logger.warn(
            { error: (error as Error).message },
            'the revocation checks that are due could not be run: the next round tries again',
          ),
        ),
      TICK_MS,
    );
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /**
   * The first check, right after the revocation's outcome was recorded: the caller's answer waits
   * for it at most FIRST_CHECK_WAIT_MS ('pending' then; it is recorded when it ends). Never throws:
   * the revocation itself is done and recorded.
   */
  async afterRevocation(
    op: AnyOperation,
    target: AuditTarget,
    actor: AuditActor,
    requestId: string,
  ): Promise<Verification> {
    if (!op.verifyRevoked) return 'pending';
    const first = this.firstCheck(op, target, actor, requestId).catch((error: unknown) => {
      this.logger.error(
        { request_id: requestId, error: (error as Error).message },
        'a revocation could not be checked nor recorded as unverified: the next pass takes it',
      );
      return 'unverified' as const;
    });
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'pending'>((resolve) => {
      timer = setTimeout(() => resolve('pending'), FIRST_CHECK_WAIT_MS);
    });
    try {
      return await Promise.race([first, waited]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The checks that are due on the CLOCK, each taken by one instance (row locks, SKIP LOCKED).
   * Returns how many were checked. One pass at a time in this instance.
   */
  retryDue(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async firstCheck(
    op: AnyOperation,
    target: AuditTarget,
    actor: AuditActor,
    requestId: string,
  ): Promise<Verification> {
    const check = await this.ask(op, target);
    if (check.revoked) {
      await this.audit.write([
        this.record('credential.revocation_verified', actor, target, check, requestId),
      ]);
      return 'verified';
    }
    // The row first: should the record fail, the pass still checks it again.
    const now = this.clock.now();
    await this.database.query(
      `INSERT INTO revocation_checks (vendor, scope, credential_id, request_id, attempts, first_at,
                                      next_at, last_error)
       VALUES ($1, $2, $3, $4, 1, $5, $6, $7)
       ON CONFLICT (vendor, scope, credential_id) DO UPDATE SET
         request_id = EXCLUDED.request_id, attempts = 1, first_at = EXCLUDED.first_at,
         next_at = EXCLUDED.next_at, last_error = EXCLUDED.last_error`,
      [
        target.vendor,
        scopeOf(target),
        target.credential_id?.toLowerCase(),
        requestId,
        new Date(now),
        new Date(now + retryDelayMs(1)),
        check.note,
      ],
    );
    await this.audit.write([
      this.record('credential.revocation_unverified', actor, target, check, requestId),
    ]);
    return 'unverified';
  }

  private async pass(): Promise<number> {
    if (!this.audit.health().ok) return 0;
    const now = new Date(this.clock.now());
    // Revocations never checked (the process stopped before the first check): scheduled now.
    await this.database.query(UNCHECKED_SQL, [now, new Date(now.getTime() - UNCHECKED_AFTER_MS)]);
    return this.database.transaction(async (client) => {
      const { rows } = await client.query<CheckRow>(DUE_SQL, [now]);
      for (const row of rows) await this.retry(client, row);
      return rows.length;
    });
  }

  private async retry(client: PoolClient, row: CheckRow): Promise<void> {
    const key = [row.vendor, row.scope, row.credential_id];
    // Regenerated, expired, found gone by reconciliation, or verified meanwhile: nothing to check.
    if (
      row.status === null ||
      !['revoked', 'revoke_unverified'].includes(row.status) ||
      (row.status === 'revoked' && row.verified_at !== null)
    ) {
      await client.query(`DELETE FROM revocation_checks WHERE ${KEY}`, key);
      return;
    }
    const target: AuditTarget = {
      vendor: row.vendor,
      ...(row.vendor === 'qwiet' ? { org_id: row.scope } : { shared_space_id: row.scope }),
      credential_id: row.credential_id,
    };
    const op = this.operations.of(
      row.vendor === 'qwiet' ? 'qwiet.token.revoke' : 'octane.api_access.revoke',
    );
    if (!op) return;
    const check = await this.ask(op, target);
    if (check.revoked) {
      await this.audit.write([
        this.record('credential.revocation_verified', SYSTEM_ACTOR, target, check, row.request_id),
      ]);
      await client.query(`DELETE FROM revocation_checks WHERE ${KEY}`, key);
      return;
    }
    const attempts = row.attempts + 1;
    await client.query(
      `UPDATE revocation_checks SET attempts = $4, next_at = $5, last_error = $6 WHERE ${KEY}`,
      [...key, attempts, new Date(this.clock.now() + retryDelayMs(attempts)), check.note],
    );
    if (row.status === 'revoked') {
      await this.audit.write([
        this.record(
          'credential.revocation_unverified',
          SYSTEM_ACTOR,
          target,
          check,
          row.request_id,
        ),
      ]);
    }
    // Bookkeeping (not a status change): outside this transaction, which must not hold the
    // inventory row the ledger's statements change.
    await this.database.query(`UPDATE credentials SET last_checked_at = now() WHERE ${KEY}`, key);
    this.logger.warn(
      { target, attempts, note: check.note },
      'a revocation is still not verified at the vendor',
    );
  }

  /** The vendor's answer; a check that cannot be made counts as not verified. */
  private async ask(op: AnyOperation, target: AuditTarget): Promise<RevocationCheck> {
    try {
      return await op.verifyRevoked!(target);
    } catch (error) {
      return { revoked: false, note: `the vendor could not be asked: ${(error as Error).message}` };
    }
  }

  private record(
    event: 'credential.revocation_verified' | 'credential.revocation_unverified',
    actor: AuditActor,
    target: AuditTarget,
    check: RevocationCheck,
    revocation: string,
  ): AuditEntry {
    return {
      request_id: randomUUID(),
      event,
      phase: 'succeeded',
      actor,
      target: {
        vendor: target.vendor,
        ...(target.org_id !== undefined && { org_id: target.org_id }),
        ...(target.shared_space_id !== undefined && { shared_space_id: target.shared_space_id }),
        credential_id: target.credential_id,
      },
      note: `${check.note} (revocation ${revocation})`,
    };
  }
}

const scopeOf = (t: AuditTarget): string => t.org_id ?? t.shared_space_id ?? '';
