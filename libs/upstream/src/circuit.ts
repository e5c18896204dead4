import CircuitBreaker from 'opossum';
import { UpstreamError, Vendor } from './upstream.errors';

export interface CircuitOptions {
  /** Open when at least this share (%) of the calls in the rolling window failed ... */
  errorThresholdPercentage: number;
  /** ... and the window holds at least this many calls. */
  volumeThreshold: number;
  rollingWindowMs: number;
  /** How long to answer at once before letting one probe call through (half-open). */
  resetTimeoutMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half_open';

/** A 5xx answer: returned to the caller as it is, but counted as a failure by the breaker. */
class ServerFailure extends Error {
  constructor(readonly answer: unknown) {
    super('vendor answered 5xx');
  }
}

/**
 * A circuit breaker (opossum) around one vendor: after repeated failures (transport errors and
 * 5xx answers) Keygate stops queueing on a dead vendor and answers at once; after `resetTimeoutMs`
 * one probe call goes through, and its outcome closes or re-opens the circuit.
 */
export class VendorCircuit {
  private readonly breaker: CircuitBreaker<[() => Promise<{ status: number }>], { status: number }>;

  constructor(
    private readonly vendor: Vendor,
    readonly options: CircuitOptions,
  ) {
    this.breaker = new CircuitBreaker(
      async (call: () => Promise<{ status: number }>) => {
        const answer = await call();
        if (answer.status >= 500) throw new ServerFailure(answer);
        return answer;
      },
      {
        timeout: false,
        errorThresholdPercentage: options.errorThresholdPercentage,
        volumeThreshold: options.volumeThreshold,
        rollingCountTimeout: options.rollingWindowMs,
        resetTimeout: options.resetTimeoutMs,
        // The vendor refusing Keygate's own credential is not an outage.
        errorFilter: (error: unknown) =>
          error instanceof UpstreamError && error.failure === 'credentials_rejected',
      },
    );
  }

  async run<T extends { status: number }>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return (await this.breaker.fire(call)) as T;
    } catch (error) {
      if (error instanceof ServerFailure) return error.answer as T;
      if ((error as { code?: string }).code === 'EOPENBREAKER') {
        const name = this.vendor === 'qwiet' ? 'Qwiet' : 'Octane';
        throw new UpstreamError(
          this.vendor,
          operation,
          'circuit_open',
          `${name} is failing: Keygate stopped calling it for now`,
          undefined,
          Math.ceil(this.options.resetTimeoutMs / 1000),
        );
      }
      throw error;
    }
  }

  get state(): CircuitState {
    return this.breaker.opened ? 'open' : this.breaker.halfOpen ? 'half_open' : 'closed';
  }

  onChange(listener: (state: CircuitState) => void): void {
    this.breaker.on('open', () => listener('open'));
    this.breaker.on('halfOpen', () => listener('half_open'));
    this.breaker.on('close', () => listener('closed'));
  }

  shutdown(): void {
    this.breaker.shutdown();
  }
}
