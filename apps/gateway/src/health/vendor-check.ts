import { UpstreamError } from '@app/upstream';
import type { CircuitState, Vendor } from '@app/upstream';

/** The last check of one of Keygate's own vendor credentials (an org token, a shared-space key). */
export interface CredentialResult {
  ok: boolean;
  /** Epoch ms. */
  checkedAt: number;
  /** Why not ok: an UpstreamFailure (`credentials_rejected`, `timeout`, ...) or `vendor_status`. */
  error?: string;
  /** The vendor's HTTP status, when it answered. */
  vendorStatus?: number;
}

export interface VendorCheckOptions {
  vendor: Vendor;
  /** Keygate's own credentials at this vendor (org ids, shared space ids), checked in turn. */
  credentials: readonly string[];
  /** One cheap authenticated call with the credential `id` (through the vendor client). */
  call: (id: string) => Promise<{ status: number }>;
  /** The circuit of the vendor client: while it is not closed, no check is made. */
  circuit: () => CircuitState;
  /** At most one check this often. */
  periodMs: number;
  now?: () => number;
}

/**
 * Whether a vendor still accepts Keygate's own credentials, from at most one vendor call a period:
 * single-flight (concurrent callers share the check under way), one credential a check in turn,
 * each credential's last result kept. Nothing here runs on its own: `refresh()` starts a check
 * when the last one is older than the period (at start-up and as probes arrive).
 */
export class VendorCheck {
  private readonly results = new Map<string, CredentialResult>();
  private running?: Promise<void>;
  private lastStarted = Number.NEGATIVE_INFINITY;
  private next = 0;
  private stopped = false;
  lastCredential?: string;

  constructor(private readonly options: VendorCheckOptions) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /**
   * Starts a check unless one is under way (then its promise), one started within the period, or
   * the circuit is not closed (an open circuit already says down; a half-open one keeps its single
   * trial call for real traffic). Never rejects.
   */
  refresh(): Promise<void> {
    if (this.running) return this.running;
    const { credentials, periodMs } = this.options;
    if (
      this.stopped ||
      credentials.length === 0 ||
      this.now() - this.lastStarted < periodMs ||
      this.options.circuit() !== 'closed'
    ) {
      return Promise.resolve();
    }
    this.lastStarted = this.now();
    const id = credentials[this.next++ % credentials.length];
    this.running = this.check(id).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  get hasResult(): boolean {
    return this.results.size > 0;
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** Every credential checked so far, with its last result. */
  credentialResults(): ReadonlyMap<string, CredentialResult> {
    return this.results;
  }

  /** Up: the circuit is not open, and every credential checked so far was accepted last time. */
  isUp(): boolean {
    if (this.options.circuit() === 'open') return false;
    if (this.options.credentials.length === 0 || !this.hasResult) return false;
    return [...this.results.values()].every((r) => r.ok);
  }

  /** Why it is down, as an error class (no text from the vendor). */
  downReason(): string | undefined {
    if (this.options.circuit() === 'open') return 'circuit_open';
    if (this.options.credentials.length === 0) return 'no_credentials';
    if (!this.hasResult) return 'not_checked';
    return [...this.results.values()].find((r) => !r.ok)?.error;
  }

  stop(): void {
    this.stopped = true;
  }

  private async check(id: string): Promise<void> {
    let result: Omit<CredentialResult, 'checkedAt'>;
    try {
      const { status } = await this.options.call(id);
      result =
        status >= 200 && status < 300
          ? { ok: true }
          : {
              ok: false,
              error: status === 401 || status === 403 ? 'credentials_rejected' : 'vendor_status',
              vendorStatus: status,
            };
    } catch (error) {
      result =
        error instanceof UpstreamError
          ? { ok: false, error: error.failure, vendorStatus: error.vendorStatus }
          : { ok: false, error: 'internal_error' };
    }
    if (this.stopped) return;
    this.results.set(id, { ...result, checkedAt: this.now() });
    this.lastCredential = id;
  }
}
