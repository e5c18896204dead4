import { isAxiosError } from 'axios';

export type Vendor = 'qwiet' | 'octane';

export type UpstreamFailure =
  /** No answer: connection refused or reset, DNS failure. */
  | 'unreachable'
  /** No answer within the configured timeout. */
  | 'timeout'
  /** An answer that is not the vendor's JSON. */
  | 'bad_response'
  /** The vendor refused the gateway's own credentials (after one fresh sign-in for Octane). */
  | 'credentials_rejected'
  /** The vendor's circuit is open after repeated failures: not called at all. */
  | 'circuit_open';

/**
 * A vendor call that failed below the HTTP level. Built from whitelisted fields only: an AxiosError
 * carries the request config, headers and so the vendor credentials, and must never reach a log.
 */
export class UpstreamError extends Error {
  override readonly name = 'UpstreamError';

  constructor(
    readonly vendor: Vendor,
    readonly operation: string,
    readonly failure: UpstreamFailure,
    message: string,
    readonly vendorStatus?: number,
    /** When calling again may help (an open circuit). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT']);
const BAD_RESPONSE_CODES = new Set(['ERR_BAD_RESPONSE', 'ERR_FR_MAX_CONTENT_LENGTH_EXCEEDED']);

/** Maps anything an axios call threw to an UpstreamError that is safe to log. */
export function toUpstreamError(error: unknown, vendor: Vendor, operation: string): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const code = isAxiosError(error) ? error.code : (error as { code?: unknown } | null)?.code;
  const name = vendor === 'qwiet' ? 'Qwiet' : 'Octane';
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
    return new UpstreamError(vendor, operation, 'timeout', `${name} did not answer in time`);
  }
  if (typeof code === 'string' && BAD_RESPONSE_CODES.has(code)) {
    return new UpstreamError(
      vendor,
      operation,
      'bad_response',
      `${name} sent an answer that could not be read`,
    );
  }
  const detail = typeof code === 'string' && /^[A-Z_]+$/.test(code) ? ` (${code})` : '';
  return new UpstreamError(
    vendor,
    operation,
    'unreachable',
    `${name} could not be reached${detail}`,
  );
}
