import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Database } from '@app/ledger';
import { OctaneClient, QwietClient } from '@app/upstream';
import { AuditService } from '../audit/audit.service';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { DATABASE } from '../database/database.tokens';
import { CredentialResult, VendorCheck } from './vendor-check';

/** How long start-up waits for the first check of both vendors (a hanging vendor must not stop it). */
const BOOT_WAIT_MS = 2000;

type Status = 'up' | 'down';
type Component = { status: Status } & Record<string, unknown>;
export interface Readiness {
  ok: boolean;
  components: Record<'qwiet' | 'octane' | 'audit' | 'store', Component>;
}

/** How long a probe waits for the store's round trip before calling it down. */
const STORE_PING_MS = 1000;

const iso = (ms: number) => new Date(ms).toISOString();

function credentialDetails(result: CredentialResult): Record<string, unknown> {
  return {
    status: result.ok ? 'up' : 'down',
    checked_at: iso(result.checkedAt),
    error: result.error,
    vendor_status: result.vendorStatus,
  };
}

/**
 * /health/ready without fanning out: each vendor is checked in the background (VendorCheck: at
 * most one call per vendor every HEALTH_VENDOR_CHECK_MS, with Keygate's own credentials, first at
 * start-up, then again when a probe finds the last check older than that); probes read the last
 * results, the circuits, the audit ledger and a bounded round trip to the store (PostgreSQL).
 */
@Injectable()
export class ReadinessService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly checks: { qwiet: VendorCheck; octane: VendorCheck };

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly qwiet: QwietClient,
    private readonly octane: OctaneClient,
    private readonly audit: AuditService,
    @Inject(DATABASE) private readonly database: Database,
  ) {
    const periodMs = config.health.vendorCheckMs;
    this.checks = {
      // Qwiet: list the roles of an org (scope roles:list), with that org's access token.
      qwiet: new VendorCheck({
        vendor: 'qwiet',
        credentials: Object.keys(config.qwiet.orgTokens),
        call: (org) => qwiet.listRoles(org),
        circuit: () => qwiet.circuit.state,
        periodMs,
      }),
      // Octane: one shared-space role, over the space's session (signing in when it has none).
      octane: new VendorCheck({
        vendor: 'octane',
        credentials: Object.keys(config.octane.sharedSpaces),
        call: (space) => octane.listRoles(space, { limit: 1, fields: 'id' }),
        circuit: () => octane.circuit.state,
        periodMs,
      }),
    };
  }

  async onApplicationBootstrap(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bounded = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, BOOT_WAIT_MS);
      timer.unref();
    });
    await Promise.race([
      Promise.all([this.checks.qwiet.refresh(), this.checks.octane.refresh()]),
      bounded,
    ]);
    clearTimeout(timer);
  }

  onApplicationShutdown(): void {
    this.checks.qwiet.stop();
    this.checks.octane.stop();
  }

  /** The answer to a probe; `details` (for keygate:admin) adds times, credentials, errors and the sink. */
  async ready(details: boolean): Promise<Readiness> {
    const vendors = await Promise.all(
      (['qwiet', 'octane'] as const).map(async (vendor) => {
        const check = this.checks[vendor];
        // Never checked (the start-up check is still running): wait for it, once.
        if (!check.hasResult && check.isRunning) await check.refresh();
        else void check.refresh();
        return [vendor, this.vendorComponent(vendor, details)] as const;
      }),
    );
    // A gap in the ledger keeps changes refused: checked again (a few indexed rows) on each probe.
    await this.audit.recheck();
    const components = {
      ...Object.fromEntries(vendors),
      audit: this.auditComponent(details),
      store: await this.storeComponent(this.database, details),
    } as Readiness['components'];
    return { ok: Object.values(components).every((c) => c.status === 'up'), components };
  }

  private vendorComponent(vendor: 'qwiet' | 'octane', details: boolean): Component {
    const check = this.checks[vendor];
    const status: Status = check.isUp() ? 'up' : 'down';
    if (!details) return { status };
    const results = check.credentialResults();
    const last = check.lastCredential ? results.get(check.lastCredential) : undefined;
    return {
      status,
      circuit: this[vendor].circuit.state,
      checked_at: last && iso(last.checkedAt),
      credential: check.lastCredential,
      error: status === 'down' ? check.downReason() : undefined,
      credentials: Object.fromEntries(
        [...results].map(([id, result]) => [id, credentialDetails(result)]),
      ),
    };
  }

  /** The PostgreSQL store: one bounded round trip per probe (no vendor is involved). */
  private async storeComponent(database: Database, details: boolean): Promise<Component> {
    const health = await database.ping(STORE_PING_MS);
    if (!details) return { status: health.ok ? 'up' : 'down' };
    return health.ok
      ? { status: 'up', database: database.safeUrl, latency_ms: health.latencyMs }
      : {
          status: 'down',
          database: database.safeUrl,
          message: `the database cannot be reached: ${health.error}`,
        };
  }

  private auditComponent(details: boolean): Component {
    const sink = this.audit.health();
    if (!details) return { status: sink.ok ? 'up' : 'down' };
    return sink.ok
      ? { status: 'up', sink: sink.store, seq: sink.seq }
      : {
          status: 'down',
          message: `audit log cannot be written: ${sink.error}`,
          sink: sink.store,
          since: sink.since,
          ...(sink.gap && {
            gap: { head: sink.gap.head ?? null, end: sink.gap.end, problem: sink.gap.problem },
          }),
        };
  }
}
