import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { GatewayError } from '@app/common';
import { UpstreamError } from '@app/upstream';
import type { RequestMeta } from '../audit/request-meta';
import { IssuancePipeline } from '../issuance/issuance.pipeline';
import { OctaneService } from '../octane/octane.service';
import { QwietTokenOperations } from '../qwiet/qwiet-token.operations';
import type { CredentialKey } from './inventory';

/** What one revocation Keygate decided itself (offboarding, a leak) came to. */
export interface RevocationResult {
  outcome: 'revoked' | 'failed';
  /** The vendor's HTTP status, when it answered. */
  vendor_status?: number;
  /** Keygate's error code (or the vendor failure) when it did not revoke. */
  error?: string;
  /** Keygate's own id of the revocation's request: its records in the ledger. */
  request_id: string;
}

const UPSTREAM_CODES: Record<string, string> = {
  unreachable: 'UPSTREAM_UNREACHABLE',
  bad_response: 'UPSTREAM_BAD_RESPONSE',
  credentials_rejected: 'UPSTREAM_CREDENTIALS_REJECTED',
  timeout: 'UPSTREAM_TIMEOUT',
  circuit_open: 'VENDOR_CIRCUIT_OPEN',
};

const codeOf = (error: unknown): string =>
  error instanceof GatewayError
    ? String(error.code)
    : error instanceof UpstreamError
      ? (UPSTREAM_CODES[error.failure] ?? 'UPSTREAM_BAD_RESPONSE')
      : 'INTERNAL';

/**
 * Revokes one inventory credential through THE request path (IssuancePipeline with the vendor's
 * revoke operation; Octane's through OctaneService, which holds the key's lock): decided, audited
 * and verified like a revocation an admin sends to the vendor route. Each revocation is its own
 * request in the ledger (a fresh request id unless the caller names it: the verifier's re-sent
 * revocations), all carrying the caller's X-Request-Id. Never throws: the outcome is reported.
 * The RevocationVerifier reaches it by the token CREDENTIAL_REVOKER (no import cycle).
 */
@Injectable()
export class CredentialRevoker {
  constructor(
    private readonly pipeline: IssuancePipeline,
    private readonly qwiet: QwietTokenOperations,
    private readonly octane: OctaneService,
  ) {}

  async revoke(
    c: CredentialKey,
    caller: Caller,
    meta: RequestMeta,
    requestId: string = randomUUID(),
  ): Promise<RevocationResult> {
    const each: RequestMeta = { ...meta, requestId };
    try {
      const result =
        c.vendor === 'qwiet'
          ? await this.pipeline.run(
              this.qwiet.revoke,
              { org: c.scope, id: c.credential_id },
              caller,
              each,
            )
          : // Through the Octane service: it waits for a change of the same key in flight (a
            // regeneration decided before must not bring the key back after this revocation).
            await this.octane.updateApiAccess(caller, each, c.scope, c.credential_id, {
              is_valid: false,
            });
      const status = result.answer.status;
      return status >= 200 && status < 300
        ? { outcome: 'revoked', vendor_status: status, request_id: requestId }
        : {
            outcome: 'failed',
            vendor_status: status,
            error: 'VENDOR_REFUSED',
            request_id: requestId,
          };
    } catch (error) {
      return { outcome: 'failed', error: codeOf(error), request_id: requestId };
    }
  }
}
