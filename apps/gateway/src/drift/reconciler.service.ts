import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AuditEntry, AuditTarget } from '@app/audit';
import type { Caller } from '@app/auth';
import { GatewayError, GatewayRole, SETTLING_NOTE } from '@app/common';
import type { Database } from '@app/ledger';
import { driftUnknownAction } from '@app/policy';
import { OctaneClient, QwietClient, UpstreamError, VendorResponse } from '@app/upstream';
import { AuditService } from '../audit/audit.service';
import { CLOCK, Clock } from '../common/clock';
import { OwnCredentials } from '../common/own-credentials';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { DATABASE } from '../database/database.tokens';
import { IssuancePipeline } from '../issuance/issuance.pipeline';
import { OctaneApiAccessOperations } from '../octane/octane-api-access.operations';
import { PolicyStore } from '../policy/policy.store';
import { QwietTokenOperations } from '../qwiet/qwiet-token.operations';
import type { DriftRevocation, PassSummary, ScopeSummary } from './drift.types';

type Vendor = 'qwiet' | 'octane';

/** Keygate's own decisions: the actor of the pass's records and of the revocations it asks for. */
export const KEYGATE_ACTOR: Caller = {
  subject: 'keygate',
  team: 'keygate',
  roles: [GatewayRole.ADMIN],
};

/** One credential as the vendor lists it, in the terms the pass compares. */
interface Listed {
  id: string;
  name?: string;
  clientId?: string;
  /** Octane's is_valid (Qwiet lists no revoked token: always true there). */
  valid: boolean;
  /** Epoch ms, when the credential has an expiry. */
  expiresAt?: number;
  /** Qwiet: the description, which carries Keygate's marker on what it issued. */
  description?: string;
  extra: Partial<AuditTarget>;
}

/** A scope's list as read: what was seen, and whether it was all of it. */
interface Listing {
  items: Listed[];
  complete: boolean;
  error?: string;
}

interface InventoryRow {
  credential_id: string;
  status: string;
  issued_seq: string | null;
  owner_team: string;
  expires_at: Date | null;
}

/** The pass is one instance's at a time: this session advisory lock, on a dedicated connection. */
const PASS_LOCK = 'keygate.reconcile';
/** Octane's list, a page at a time (by id: new keys land on the last page, none move). */
const OCTANE_PAGE = 100;
/** Bounded: a list longer than this many pages is read as partial. */
const MAX_PAGES = 1000;
const MARKER = /\[keygate:([0-9a-f-]{36})\]/i;

const failureOf = (error: unknown): string =>
  error instanceof UpstreamError
    ? `${error.failure}${error.vendorStatus !== undefined ? ` (status ${error.vendorStatus})` : ''}`
    : error instanceof GatewayError
      ? error.code
      : 'internal error';

const vendorRefused = (answer: VendorResponse): string => `the vendor answered ${answer.status}`;

/** A credential id as a vendor lists it: a string or a number, 1-128 printable characters. */
const USABLE_ID = /^[\x21-\x7e]{1,128}$/;

const usableId = (v: unknown): string | undefined => {
  const id =
    typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : '';
  return USABLE_ID.test(id) ? id : undefined;
};

/**
 * A vendor's list as judged: each id once (a later duplicate is dropped), entries without a usable
 * id skipped, and a list that had any of those is not complete (a credential of Keygate's might
 * be behind one: nothing is judged gone on it).
 */
function judged(listing: Listing, unusable: number): Listing {
  const seen = new Set<string>();
  const items = listing.items.filter((i) => !seen.has(i.id) && Boolean(seen.add(i.id)));
  if (unusable === 0) return { ...listing, items };
  const bad = `${unusable} ${unusable === 1 ? 'entry' : 'entries'} without a usable id`;
  return {
    items,
    complete: false,
    error: listing.error === undefined ? `${bad}: read in part` : `${listing.error}; ${bad}`,
  };
}

const epoch = (v: unknown): number | undefined => {
  if (typeof v !== 'string') return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
};

const emptyScope = (vendor: Vendor, scope: string): ScopeSummary => ({
  vendor,
  scope,
  complete: false,
  listed: 0,
  checked: 0,
  unknown: 0,
  unknown_again: 0,
  revoked: 0,
  revoked_outside: 0,
  expired: 0,
  in_flight: 0,
});

/** The answer to a request for a pass while another instance (or this one) runs one. */
export class PassInProgress extends Error {
  constructor() {
    super('a reconciliation pass is in progress');
  }
}

/**
 * Drift reconciliation: the vendors against the ledger. A pass lists every configured Qwiet org's
 * tokens (show_expired=true) and every configured Octane shared space's api_accesses (every page),
 * and compares them with the credentials inventory:
 *
 * - at the vendor, usable, not in the inventory, not Keygate's own and not a change of Keygate's
 *   still in flight: drift.unknown_credential (once per credential: the ledger remembers), and the
 *   policy's drift.unknown decides: report, or revoke through the issuance pipeline (actor keygate);
 * - active in the inventory but invalid or (list read whole) gone at the vendor:
 *   drift.revoked_outside; expired at the vendor: credential.expired (the records move the status);
 * - last_checked_at of every inventory credential seen;
 * - one drift.pass record with the counts per vendor and scope, the duration and the errors.
 *
 * A scope whose list failed or was partial is named in the errors and skipped for "gone": nothing
 * it did not see changes. One instance at a time (a session advisory lock).
 */
@Injectable()
export class Reconciler {
  private readonly logger = new Logger('Reconciler');
  /** This instance's pass under way (another request for one is answered "in progress"). */
  private running = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(DATABASE) private readonly database: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly qwiet: QwietClient,
    private readonly octane: OctaneClient,
    private readonly own: OwnCredentials,
    private readonly policy: PolicyStore,
    private readonly pipeline: IssuancePipeline,
    private readonly qwietOps: QwietTokenOperations,
    private readonly octaneOps: OctaneApiAccessOperations,
  ) {}

  /**
   * Runs one pass under the lock. A scheduled pass is skipped (undefined) when another instance
   * ran one less than RECONCILE_INTERVAL ago by the clock. PassInProgress when the lock is held.
   */
  async run(
    trigger: PassSummary['trigger'],
    requestedBy?: Caller,
  ): Promise<{ seq: number; summary: PassSummary } | undefined> {
    if (this.running) throw new PassInProgress();
    this.running = true;
    try {
      const done = await this.database.exclusively(PASS_LOCK, async () =>
        trigger === 'schedule' && (await this.ranRecently())
          ? undefined
          : this.pass(trigger, requestedBy),
      );
      if (!done.ran) throw new PassInProgress();
      return done.value;
    } finally {
      this.running = false;
    }
  }

  /** Whether the last pass (any instance's) started less than an interval ago by the clock. */
  private async ranRecently(): Promise<boolean> {
    const { rows } = await this.database.query<{ line: string }>(
      "SELECT line FROM ledger_records WHERE event = 'drift.pass' ORDER BY seq DESC LIMIT 1",
    );
    if (!rows[0]) return false;
    const last = epoch((JSON.parse(rows[0].line) as { drift?: PassSummary }).drift?.started_at);
    return last !== undefined && this.clock.now() - last < this.config.reconcileIntervalMs;
  }

  private async pass(
    trigger: PassSummary['trigger'],
    requestedBy?: Caller,
  ): Promise<{ seq: number; summary: PassSummary }> {
    const passId = randomUUID();
    const started = this.clock.now();
    const wall = process.hrtime.bigint();
    const scopes: ScopeSummary[] = [];
    const revocations: DriftRevocation[] = [];
    const work: [Vendor, string][] = [
      ...Object.keys(this.config.qwiet.orgTokens).map((o): [Vendor, string] => ['qwiet', o]),
      ...Object.keys(this.config.octane.sharedSpaces).map((s): [Vendor, string] => ['octane', s]),
    ];
    for (const [vendor, scope] of work) {
      const summary = emptyScope(vendor, scope);
      scopes.push(summary);
      try {
        await this.reconcileScope(passId, summary, revocations);
      } catch (error) {
        // The ledger or the inventory could not be read or written: this scope changed nothing more.
        summary.complete = false;
        summary.error ??= failureOf(error);
        this.logger.warn({ vendor, scope, error: summary.error }, 'drift: scope not reconciled');
      }
    }
    const finished = this.clock.now();
    const sum = (k: keyof ScopeSummary) =>
      scopes.reduce((n, s) => n + (typeof s[k] === 'number' ? (s[k] as number) : 0), 0);
    const summary: PassSummary = {
      pass_id: passId,
      trigger,
      ...(requestedBy && {
        requested_by: { subject: requestedBy.subject, team: requestedBy.team },
      }),
      started_at: new Date(started).toISOString(),
      finished_at: new Date(finished).toISOString(),
      duration_ms: Math.round(Number(process.hrtime.bigint() - wall) / 1e6),
      scopes,
      totals: {
        listed: sum('listed'),
        unknown: sum('unknown'),
        revoked: sum('revoked'),
        revoked_outside: sum('revoked_outside'),
        expired: sum('expired'),
      },
      revocations,
      errors: scopes
        .filter((s) => s.error !== undefined)
        .map((s) => ({ vendor: s.vendor, scope: s.scope, error: s.error as string })),
    };
    const entry: AuditEntry & { drift: PassSummary } = {
      ...this.entry(passId, 'drift.pass', {}),
      drift: summary,
    };
    const [record] = await this.audit.write([entry]);
    return { seq: record.seq, summary };
  }

  private entry(passId: string, event: AuditEntry['event'], target: AuditTarget, note?: string) {
    return {
      request_id: passId,
      event,
      phase: 'succeeded' as const,
      actor: { subject: KEYGATE_ACTOR.subject, team: KEYGATE_ACTOR.team },
      target,
      ...(note !== undefined && { note }),
    };
  }

  private async reconcileScope(
    passId: string,
    s: ScopeSummary,
    revocations: DriftRevocation[],
  ): Promise<void> {
    const { vendor, scope } = s;
    // The ledger's head before the list is read: a credential issued after it may not be listed yet.
    const head = await this.database.query<{ seq: string }>('SELECT seq FROM ledger_head');
    const before = Number(head.rows[0]?.seq ?? 0);
    const listing = vendor === 'qwiet' ? await this.listQwiet(scope) : await this.listOctane(scope);
    s.listed = listing.items.length;
    s.complete = listing.complete;
    if (listing.error !== undefined) s.error = listing.error;
    const ownId =
      vendor === 'qwiet'
        ? this.own.qwietTokenId(scope)
        : listing.items.length > 0
          ? await this.own.octaneKeyId(scope)
          : undefined;

    // Read after the list: whatever was issued before it was listed is known by now, or in flight.
    const { rows } = await this.database.query<InventoryRow>(
      `SELECT credential_id, status, issued_seq, owner_team, expires_at FROM credentials
       WHERE vendor = $1 AND scope = $2`,
      [vendor, scope],
    );
    const inventory = new Map(rows.map((r) => [r.credential_id.toLowerCase(), r]));
    const inFlight = await this.inFlight(vendor, scope);
    const reported = await this.reportedUnknown(vendor, scope);
    const action = driftUnknownAction(this.policy.policy, vendor, scope);
    const now = this.clock.now();
    const scopeField = vendor === 'qwiet' ? { org_id: scope } : { shared_space_id: scope };

    const entries: AuditEntry[] = [];
    const toRevoke: Listed[] = [];
    const seen: string[] = [];
    for (const item of listing.items) {
      const row = inventory.get(item.id);
      const target: AuditTarget = { vendor, ...scopeField, credential_id: item.id };
      if (row) {
        seen.push(item.id);
        if (row.status !== 'active') continue;
        if (inFlight.credentials.has(item.id)) {
          s.in_flight += 1;
          continue;
        }
        const owned = { ...target, owner_team: row.owner_team };
        if (!item.valid) {
          entries.push(
            this.entry(passId, 'drift.revoked_outside', owned, 'the vendor lists it as not valid'),
          );
          s.revoked_outside += 1;
        } else if (item.expiresAt !== undefined && item.expiresAt <= now) {
          const expires_at = new Date(item.expiresAt).toISOString();
          entries.push(
            this.entry(
              passId,
              'credential.expired',
              { ...owned, expires_at },
              'expired at the vendor',
            ),
          );
          s.expired += 1;
        }
        continue;
      }
      // Not in the inventory: Keygate's own, a change in flight, unusable, or unknown.
      if (ownId !== undefined && item.id === ownId.toLowerCase()) continue;
      if (vendor === 'qwiet' && this.own.qwietToken(scope, item.id, false)) continue;
      if (!item.valid || (item.expiresAt !== undefined && item.expiresAt <= now)) continue;
      const marker = item.description && MARKER.exec(item.description)?.[1]?.toLowerCase();
      if (
        (marker && inFlight.requests.has(marker)) ||
        (item.name !== undefined && inFlight.names.has(item.name))
      ) {
        s.in_flight += 1;
        continue;
      }
      if (reported.has(item.id)) s.unknown_again += 1;
      else {
        entries.push(
          this.entry(
            passId,
            'drift.unknown_credential',
            { ...target, ...item.extra },
            `at the vendor, never issued by Keygate; policy drift.unknown: ${action}`,
          ),
        );
        s.unknown += 1;
      }
      if (action === 'revoke') toRevoke.push(item);
    }
    if (listing.complete) {
      const listed = new Set(listing.items.map((i) => i.id));
      for (const [id, row] of inventory) {
        if (row.status !== 'active' || listed.has(id)) continue;
        // Issued after the list was started, or being changed now: not judged on this list.
        if (row.issued_seq === null || Number(row.issued_seq) > before) continue;
        if (inFlight.credentials.has(id)) {
          s.in_flight += 1;
          continue;
        }
        entries.push(
          this.entry(
            passId,
            'drift.revoked_outside',
            { vendor, ...scopeField, credential_id: id, owner_team: row.owner_team },
            vendor === 'qwiet' ? 'Qwiet no longer lists it' : 'Octane no longer lists it',
          ),
        );
        s.revoked_outside += 1;
      }
    }
    if (entries.length > 0) await this.audit.write(entries);
    if (seen.length > 0) {
      // Bookkeeping, not a status: the one column changed outside the ledger's own statement.
      await this.database.query(
        `UPDATE credentials SET last_checked_at = $4 WHERE vendor = $1 AND scope = $2
         AND credential_id = ANY($3::text[])`,
        [vendor, scope, seen, new Date(now).toISOString()],
      );
    }
    s.checked = seen.length;
    for (const item of toRevoke) {
      const revocation = await this.revoke(passId, vendor, scope, item.id);
      revocations.push(revocation);
      if (revocation.status !== undefined && revocation.status >= 200 && revocation.status < 300)
        s.revoked += 1;
    }
  }

  /** Revokes an unknown credential through the one request path, as Keygate (keygate:admin). */
  private async revoke(
    passId: string,
    vendor: Vendor,
    scope: string,
    id: string,
  ): Promise<DriftRevocation> {
    const requestId = randomUUID();
    const meta = { requestId, callerRequestId: passId, userAgent: 'keygate-reconciler' };
    const done = { vendor, scope, credential_id: id, request_id: requestId };
    try {
      const result =
        vendor === 'qwiet'
          ? await this.pipeline.run(this.qwietOps.revoke, { org: scope, id }, KEYGATE_ACTOR, meta)
          : await this.pipeline.run(
              this.octaneOps.revoke,
              { space: scope, id, isOwnKey: false },
              KEYGATE_ACTOR,
              meta,
            );
      return { ...done, status: result.answer.status };
    } catch (error) {
      this.logger.warn(
        { vendor, scope, credential_id: id, error: failureOf(error) },
        'drift: an unknown credential could not be revoked',
      );
      return { ...done, error: failureOf(error) };
    }
  }

  /** Unknown credentials already reported in this scope (the ledger remembers). */
  private async reportedUnknown(vendor: Vendor, scope: string): Promise<Set<string>> {
    const { rows } = await this.database.query<{ id: string }>(
      `SELECT DISTINCT lower(target ->> 'credential_id') AS id FROM ledger_records
       WHERE event = 'drift.unknown_credential' AND target ->> 'vendor' = $1
         AND coalesce(target ->> 'org_id', target ->> 'shared_space_id') = $2`,
      [vendor, scope],
    );
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Changes of Keygate's in this scope still without an outcome that settles them (their answer
   * may still come, or lost answers and crash recovery settle them): an attempt with no later
   * record, or only a failure after which the vendor may have acted (no answer, or a 5xx) not yet
   * looked into. Their credentials (by id, by
   * Qwiet marker, by Octane key name) are not judged this pass. Attempts of the last lost-answer
   * window (and a quarter of an hour) are looked at: an older one was left by a crash.
   */
  private async inFlight(vendor: Vendor, scope: string) {
    const since = new Date(Date.now() - this.config.lostAnswerWindowMs - 15 * 60_000);
    const { rows } = await this.database.query<{ request_id: string; target: AuditTarget }>(
      `SELECT a.request_id, a.target FROM ledger_records a
       WHERE a.phase = 'attempt' AND a.time > $3 AND a.target ->> 'vendor' = $1
         AND coalesce(a.target ->> 'org_id', a.target ->> 'shared_space_id') = $2
         AND NOT EXISTS (
           SELECT 1 FROM ledger_records o
           WHERE o.request_id = a.request_id AND o.seq > a.seq
             AND (o.phase <> 'failed' OR (o.vendor ->> 'status')::int < 500
                  OR o.note ~ '${SETTLING_NOTE}'))`,
      [vendor, scope, since.toISOString()],
    );
    const credentials = new Set<string>();
    const requests = new Set<string>();
    const names = new Set<string>();
    for (const { request_id, target } of rows) {
      if (target.credential_id) credentials.add(target.credential_id.toLowerCase());
      requests.add(request_id.toLowerCase());
      if (target.name) names.add(target.name);
    }
    return { credentials, requests, names };
  }

  private async listQwiet(org: string): Promise<Listing> {
    let answer: VendorResponse;
    try {
      answer = await this.qwiet.listTokens(org, { show_expired: 'true' });
    } catch (error) {
      return { items: [], complete: false, error: failureOf(error) };
    }
    const list = (answer.body as { response?: unknown } | null)?.response;
    if (answer.status !== 200 || !Array.isArray(list))
      return { items: [], complete: false, error: vendorRefused(answer) };
    // As many as Octane's pages could hold: a longer list is not judged (nor kept in memory).
    if (list.length > MAX_PAGES * OCTANE_PAGE)
      return {
        items: [],
        complete: false,
        error: `${list.length} tokens listed, more than ${MAX_PAGES * OCTANE_PAGE}: not read`,
      };
    const entries = (list as unknown[]).filter(
      (t): t is Record<string, unknown> =>
        t !== null && typeof t === 'object' && usableId((t as { id?: unknown }).id) !== undefined,
    );
    return judged(
      {
        complete: true,
        items: entries.map((t) => ({
          id: usableId(t.id)!.toLowerCase(),
          name: typeof t.label === 'string' ? t.label : undefined,
          valid: true,
          expiresAt: epoch(t.expires_at),
          description: typeof t.description === 'string' ? t.description : undefined,
          extra: {
            ...(typeof t.label === 'string' && { label: t.label }),
            ...(typeof t.role_id === 'string' && { role_ids: [t.role_id.toLowerCase()] }),
            ...(typeof t.token_type === 'string' && { token_type: t.token_type }),
            expires_at: typeof t.expires_at === 'string' ? t.expires_at : null,
          },
        })),
      },
      list.length - entries.length,
    );
  }

  private async listOctane(space: string): Promise<Listing> {
    let unusable = 0;
    const listing = await this.listOctanePages(space, () => (unusable += 1));
    return judged(listing, unusable);
  }

  private async listOctanePages(space: string, unusable: () => void): Promise<Listing> {
    const items: Listed[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      let answer: VendorResponse;
      try {
        answer = await this.octane.listApiAccesses(space, {
          fields: 'name,client_id,is_valid,expiration',
          order_by: 'id',
          limit: OCTANE_PAGE,
          offset: page * OCTANE_PAGE,
        });
      } catch (error) {
        return { items, complete: false, error: this.partial(page, failureOf(error)) };
      }
      const body = answer.body as { data?: unknown; total_count?: unknown } | null;
      if (answer.status !== 200 || !Array.isArray(body?.data))
        return { items, complete: false, error: this.partial(page, vendorRefused(answer)) };
      // More than was asked for: not Octane's paging (a flood, a broken proxy). Not used.
      if (body.data.length > OCTANE_PAGE) {
        const error = `${body.data.length} entries where ${OCTANE_PAGE} were asked for`;
        return { items, complete: false, error: this.partial(page, error) };
      }
      for (const k of body.data as Record<string, unknown>[]) {
        const id = k !== null && typeof k === 'object' ? usableId(k.id) : undefined;
        if (id === undefined) {
          unusable();
          continue;
        }
        items.push({
          id,
          name: typeof k.name === 'string' ? k.name : undefined,
          valid: k.is_valid !== false,
          expiresAt: epoch(k.expiration),
          extra: {
            ...(typeof k.name === 'string' && { name: k.name }),
            ...(typeof k.client_id === 'string' && { client_id: k.client_id }),
            expires_at: typeof k.expiration === 'string' ? k.expiration : null,
          },
        });
      }
      const total = typeof body.total_count === 'number' ? body.total_count : undefined;
      if (body.data.length < OCTANE_PAGE || (total !== undefined && items.length >= total))
        return { items, complete: true };
    }
    return { items, complete: false, error: `more than ${MAX_PAGES} pages: read in part` };
  }

  private partial(page: number, error: string): string {
    return page === 0 ? error : `${error} on page ${page + 1}: read in part`;
  }
}
