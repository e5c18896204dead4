import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { AuditActor, AuditEntry, AuditTarget } from '@app/audit';
import type { Caller } from '@app/auth';
import { GatewayRole } from '@app/common';
import type { Database } from '@app/ledger';
import { AuditService } from '../audit/audit.service';
import type { RequestMeta } from '../audit/request-meta';
import type { RevocationResult } from '../credentials/credential-revoker';
import { CLOCK, Clock } from '../common/clock';
import { DATABASE } from '../database/database.tokens';
import type { AnyOperation, RevocationCheck } from './operation';
import { OperationsRegistry } from './operations.registry';

/** What the caller of a revocation is told about its first check (header X-Keygate-Revocation). */
export type Verification = 'verified' | 'unverified' | 'pending';

export const REVOCATION_HEADER = 'X-Keygate-Revocation';

/** Keygate itself, for the checks it repeats on its own. */
export const SYSTEM_ACTOR: AuditActor = { subject: 'keygate', team: 'keygate' };
/** Keygate itself as the caller of the revocations it sends again. */
export const SYSTEM_CALLER: Caller = {
  subject: 'keygate',
  team: 'keygate',
  roles: [GatewayRole.ADMIN],
};

/**
 * The provider that revokes a credential through the request path (CredentialsModule's
 * CredentialRevoker: IssuancePipeline, Octane through OctaneService's per-key queue). Looked up
 * lazily (ModuleRef): that module imports this one.
 */
export const CREDENTIAL_REVOKER = Symbol('CREDENTIAL_REVOKER');

/** What the verifier needs of the CredentialRevoker. */
interface Revoker {
  revoke(
    c: { vendor: 'qwiet' | 'octane'; scope: string; credential_id: string },
    caller: Caller,
    meta: RequestMeta,
    requestId?: string,
  ): Promise<RevocationResult>;
}

/** The caller's answer waits this long at most for the first check; it goes on in the background. */
export const FIRST_CHECK_WAIT_MS = 2_000;
/** Retries: 1 min after the first check, doubling, at most an hour apart (on the CLOCK). */
export const RETRY_FIRST_MS = 60_000;
export const RETRY_MAX_MS = 60 * 60_000;
/** How often (wall time) an instance looks for retries that are due on the CLOCK. */
const TICK_MS = 15_000;
/** Retries taken per pass (claimed with FOR UPDATE SKIP LOCKED: other instances skip them). */
const BATCH = 25;
/**
 * A claimed retry is not due again for this long (on the CLOCK): the claiming instance checks,
 * revokes again and reschedules it meanwhile; should it stop, another takes the row after it.
 */
const LEASE_MS = 15 * 60_000;

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

/**
 * Claims the due retries in one statement (its own short transaction): their next_at moves to the
 * lease's end ($2), so no other pass takes them while this one works on them, outside any
 * transaction (a revocation sent again writes the ledger, which changes the inventory's row).
 */
const CLAIM_SQL = `
  WITH due AS (
    SELECT vendor, scope, credential_id FROM revocation_checks
    WHERE next_at <= $1
    ORDER BY next_at
    LIMIT ${BATCH}
    FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE revocation_checks r SET next_at = $2
    FROM due d
    WHERE r.vendor = d.vendor AND r.scope = d.scope AND r.credential_id = d.credential_id
    RETURNING r.vendor, r.scope, r.credential_id, r.request_id, r.attempts
  )
  SELECT k.vendor, k.scope, k.credential_id, k.request_id, k.attempts, c.status, c.verified_at
  FROM claimed k
  LEFT JOIN credentials c
    ON c.vendor = k.vendor AND c.scope = k.scope AND c.credential_id = k.credential_id`;

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
 * unverified one is retried with backoff (revocation_checks, on the CLOCK) until the vendor shows
 * it gone: each due retry asks the vendor, and if the credential still works Keygate revokes it
 * again through the request path (CREDENTIAL_REVOKER, as the system caller `keygate`, the original
 * revocation's request id as caller_request_id) and asks again. The unverified record is written
 * once per incident, when it becomes unverified (it raises the notification); a revocation sent
 * again that leaves the credential working records credential.revocation_still_unverified (its
 * status back to revoke_unverified, no notification); the verified one when it is finally verified.
 */
@Injectable()
export class RevocationVerifier implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RevocationVerifier');
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;
  /** The request ids of the revocations this instance is sending again (their check is the pass's). */
  private readonly resending = new Set<string>();
  private revoker?: Revoker;
  constructor(
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(DATABASE) private readonly database: Database,
    private readonly operations: OperationsRegistry,
    // Absent only where a test builds the verifier by hand: then nothing is sent again.
    @Optional() private readonly moduleRef?: ModuleRef,
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
    // A revocation the retry pass sends again: the pass checks it itself, right after.
    if (!op.verifyRevoked || this.resending.has(requestId)) return 'pending';
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
   * The retries that are due on the CLOCK, each taken by one instance (claimed for LEASE_MS).
   * Returns how many were taken. One pass at a time in this instance.
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
    const now = this.clock.now();
    // Revocations never checked (the process stopped before the first check): scheduled now.
    await this.database.query(UNCHECKED_SQL, [new Date(now), new Date(now - UNCHECKED_AFTER_MS)]);
    const lease = new Date(now + LEASE_MS);
    const { rows } = await this.database.query<CheckRow>(CLAIM_SQL, [new Date(now), lease]);
    for (const row of rows) {
      try {
        await this.retry(row, lease);
      } catch (error) {
        this.logger.warn(
          { vendor: row.vendor, credential_id: row.credential_id, error: (error as Error).message },
          'a revocation retry failed: it is taken again when its claim ends',
        );
      }
    }
    return rows.length;
  }

  private async retry(row: CheckRow, lease: Date): Promise<void> {
    const key = [row.vendor, row.scope, row.credential_id];
    // Regenerated, expired, found gone by reconciliation, or verified meanwhile: nothing to check.
    if (
      row.status === null ||
      !['revoked', 'revoke_unverified'].includes(row.status) ||
      (row.status === 'revoked' && row.verified_at !== null)
    ) {
      await this.database.query(`DELETE FROM revocation_checks WHERE ${KEY}`, key);
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
      await this.verified(target, check, row.request_id, key);
      return;
    }
    // Still working. Its unverified record, if it was never written (once per incident).
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
    // Revoked again, through the request path (decided, audited), then asked again.
    const resent = await this.resend(row);
    let note = check.note;
    if (resent?.outcome === 'revoked') {
      const revocation = `${row.request_id}, sent again as ${resent.request_id}`;
      const after = await this.ask(op, target);
      if (after.revoked) {
        await this.verified(target, after, revocation, key);
        return;
      }
      // Its record made it `revoked`: back to revoke_unverified, without a second notification.
      await this.audit.write([
        this.record(
          'credential.revocation_still_unverified',
          SYSTEM_ACTOR,
          target,
          after,
          revocation,
        ),
      ]);
      note = `${after.note} (sent again: ${resent.request_id})`;
    } else if (resent) {
      note = `${check.note} (sending it again failed: ${resent.error ?? resent.vendor_status})`;
    }
    const attempts = row.attempts + 1;
    // Only while this pass's claim stands (a new revocation's first check may have replaced it).
    await this.database.query(
      `UPDATE revocation_checks SET attempts = $4, next_at = $5, last_error = $6
       WHERE ${KEY} AND next_at = $7`,
      [...key, attempts, new Date(this.clock.now() + retryDelayMs(attempts)), note, lease],
    );
    // Bookkeeping (not a status change).
    await this.database.query(`UPDATE credentials SET last_checked_at = now() WHERE ${KEY}`, key);
    this.logger.warn(
      { target, attempts, note },
      'a revocation is still not verified at the vendor',
    );
  }

  private async verified(
    target: AuditTarget,
    check: RevocationCheck,
    revocation: string,
    key: string[],
  ): Promise<void> {
    await this.audit.write([
      this.record('credential.revocation_verified', SYSTEM_ACTOR, target, check, revocation),
    ]);
    await this.database.query(`DELETE FROM revocation_checks WHERE ${KEY}`, key);
  }

  /**
   * The revocation sent again by Keygate (the system caller; the original revocation's request
   * id as the caller's). Undefined when there is no revoker in this application.
   */
  private async resend(row: CheckRow): Promise<RevocationResult | undefined> {
    if (!this.moduleRef) return undefined;
    let revoker: Revoker;
    try {
      revoker = this.revoker ??= this.moduleRef.get<Revoker>(CREDENTIAL_REVOKER, {
        strict: false,
      });
    } catch {
      return undefined; // no revoker in this application: checked only
    }
    const requestId = randomUUID();
    const meta: RequestMeta = {
      requestId,
      ...(row.request_id !== '' && { callerRequestId: row.request_id }),
    };
    this.resending.add(requestId);
    try {
      return await revoker.revoke(row, SYSTEM_CALLER, meta, requestId);
    } finally {
      this.resending.delete(requestId);
    }
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
    event:
      | 'credential.revocation_verified'
      | 'credential.revocation_unverified'
      | 'credential.revocation_still_unverified',
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
