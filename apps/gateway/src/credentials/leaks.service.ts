import { Inject, Injectable } from '@nestjs/common';
import { legacyFingerprint } from '@app/audit';
import type { AuditEntry, AuditEvent, AuditTarget } from '@app/audit';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { AuditService } from '../audit/audit.service';
import { RequestMeta, requestEntry } from '../audit/request-meta';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { CredentialRevoker, RevocationResult } from './credential-revoker';
import {
  credentialsByFingerprint,
  InventoryCredential,
  inventoryRead,
  keyOf,
  statusesOf,
} from './inventory';

export interface LeakedCredential extends InventoryCredential {
  outcome: RevocationResult['outcome'] | 'already_inactive';
  vendor_status?: number;
  error?: string;
  request_id?: string;
}

const targetOf = (c: InventoryCredential): AuditTarget => ({
  vendor: c.vendor,
  ...(c.vendor === 'qwiet' ? { org_id: c.scope } : { shared_space_id: c.scope }),
  credential_id: c.credential_id,
  owner_team: c.owner_team,
  ...(c.client_id !== null && { client_id: c.client_id }),
});

/**
 * POST /v1/leaks: a leaked secret's credential, found by its fingerprint (the secret itself is
 * never stored, logged or answered), revoked through the issuance pipeline, and leak.revoked
 * recorded with its owner. Every look-up leaves a leak.lookup record (the fingerprint, found or not).
 */
@Injectable()
export class LeaksService {
  constructor(
    private readonly audit: AuditService,
    private readonly revoker: CredentialRevoker,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async revokeLeaked(caller: Caller, meta: RequestMeta, secret: string) {
    const fingerprint = this.audit.fingerprint(secret);
    // Inventory rows an earlier release wrote carry the raw-key fingerprint: looked for too.
    const legacy = legacyFingerprint(this.config.audit.hmacKey, secret);
    const found = await inventoryRead(
      credentialsByFingerprint(this.audit.ledger, [fingerprint, legacy]),
    );
    const recordOf = (
      event: AuditEvent,
      extra: Omit<AuditEntry, 'request_id' | 'event' | 'phase' | 'actor'>,
    ): AuditEntry => ({
      ...requestEntry(caller, meta),
      event,
      phase: 'succeeded',
      fingerprint,
      ...extra,
    });
    await this.audit.write([
      recordOf('leak.lookup', {
        target: found[0] ? targetOf(found[0]) : {},
        note:
          found.length === 0
            ? 'no credential Keygate issued has this fingerprint'
            : `found ${found.map((c) => keyOf(c)).join(', ')}`,
      }),
    ]);
    if (found.length === 0) {
      throw new GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        'no credential Keygate issued has this secret (the look-up is recorded)',
        {},
        { fingerprint },
      );
    }

    const credentials: LeakedCredential[] = [];
    for (const c of found) {
      if (c.status !== 'active' && c.status !== 'revoke_unverified') {
        credentials.push({ ...c, outcome: 'already_inactive' });
        continue;
      }
      const result = await this.revoker.revoke(c, caller, meta);
      credentials.push({ ...c, ...result });
      if (result.outcome !== 'revoked') continue;
      await this.audit.write([
        recordOf('leak.revoked', {
          target: targetOf(c),
          owner: { subject: c.subject, team: c.owner_team, vendor: c.vendor },
          note: `leaked secret’s credential revoked (owner ${c.subject} of team ${c.owner_team}; revocation request ${result.request_id})`,
        }),
      ]);
    }
    const statuses = await statusesOf(this.audit.ledger, found).catch(
      () => new Map<string, string>(),
    );
    const answered = credentials.map((c) => ({ ...c, status: statuses.get(keyOf(c)) ?? c.status }));
    if (answered.some((c) => c.outcome === 'failed')) {
      throw new GatewayError(
        502,
        ErrorCode.REVOCATION_FAILED,
        'the leaked secret’s credential was found but could not be revoked: see credentials',
        {},
        { fingerprint, credentials: answered },
      );
    }
    return { fingerprint, credentials: answered };
  }
}
