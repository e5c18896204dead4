import { Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { AuditService } from '../audit/audit.service';
import { RequestMeta, requestEntry } from '../audit/request-meta';
import { CredentialRevoker, RevocationResult } from './credential-revoker';
import type { OffboardRequestDto } from './dto/credentials.dto';
import {
  activeCredentialsOf,
  InventoryCredential,
  inventoryRead,
  keyOf,
  statusesOf,
} from './inventory';

/** Revocations run this many at a time: the vendors are not flooded, a long list still moves. */
export const OFFBOARDING_CONCURRENCY = 4;
/** At most this many credentials in one call (the rest: call again). */
export const OFFBOARDING_MAX = 1000;

export interface OffboardedCredential {
  vendor: 'qwiet' | 'octane';
  scope: string;
  credential_id: string;
  name: string | null;
  owner_team: string;
  subject: string;
  outcome: 'would_revoke' | RevocationResult['outcome'];
  vendor_status?: number;
  error?: string;
  request_id?: string;
  /** The credential's status in the inventory after the revocation (revoked, revoke_unverified...). */
  status: string;
}

/** Runs `work` over `items`, at most `limit` at a time, results in the items' order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * POST /v1/credentials/revoke: every active credential of a subject or team revoked, each through
 * the issuance pipeline (decided, audited, verified like any revocation), OFFBOARDING_CONCURRENCY
 * at a time; one failing does not stop the others. Ends with one offboarding.done record.
 */
@Injectable()
export class OffboardingService {
  constructor(
    private readonly audit: AuditService,
    private readonly revoker: CredentialRevoker,
  ) {}

  async offboard(caller: Caller, meta: RequestMeta, body: OffboardRequestDto) {
    if (body.subject === undefined && body.team === undefined) {
      throw new GatewayError(400, ErrorCode.VALIDATION_FAILED, 'name whose credentials to revoke', {
        subject: 'subject or team is required',
      });
    }
    const owner = {
      ...(body.subject !== undefined && { subject: body.subject }),
      ...(body.team !== undefined && { team: body.team }),
      ...(body.vendor !== undefined && { vendor: body.vendor }),
    };
    const found = await inventoryRead(
      activeCredentialsOf(this.audit.ledger, owner, OFFBOARDING_MAX),
    );
    const dryRun = body.dry_run === true;
    const base = (c: InventoryCredential) => ({
      vendor: c.vendor,
      scope: c.scope,
      credential_id: c.credential_id,
      name: c.name,
      owner_team: c.owner_team,
      subject: c.subject,
    });
    if (dryRun) {
      const credentials: OffboardedCredential[] = found.map((c) => ({
        ...base(c),
        outcome: 'would_revoke',
        status: c.status,
      }));
      return { dry_run: true, ...owner, found: found.length, revoked: 0, failed: 0, credentials };
    }

    const results = await mapBounded(found, OFFBOARDING_CONCURRENCY, (c) =>
      this.revoker.revoke(c, caller, meta),
    );
    const statuses = await statusesOf(this.audit.ledger, found).catch(
      () => new Map<string, string>(),
    );
    const credentials: OffboardedCredential[] = found.map((c, i) => ({
      ...base(c),
      ...results[i],
      status: statuses.get(keyOf(c)) ?? c.status,
    }));
    const revoked = results.filter((r) => r.outcome === 'revoked').length;
    const failed = results.length - revoked;
    await this.audit.write([
      {
        ...requestEntry(caller, meta),
        event: 'offboarding.done',
        phase: 'succeeded',
        target: { ...(body.vendor !== undefined && { vendor: body.vendor }) },
        owner: { ...owner, found: found.length, revoked, failed },
        note: `offboarding${owner.subject !== undefined ? ` of subject ${owner.subject}` : ''}${owner.team !== undefined ? ` of team ${owner.team}` : ''}: ${revoked} of ${found.length} active credentials revoked, ${failed} not`,
      },
    ]);
    return { dry_run: false, ...owner, found: found.length, revoked, failed, credentials };
  }
}
