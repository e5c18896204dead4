import { Inject, Injectable } from '@nestjs/common';
import type { AuditTarget } from '@app/audit';
import { ErrorCode, GatewayError } from '@app/common';
import type { Database } from '@app/ledger';
import { DATABASE } from '../database/database.tokens';

/** A record's vendor: absent on the gateway's own records, which own no credential. */
type Vendor = AuditTarget['vendor'];

/**
 * Which team issued each credential Keygate issued, for the revocation.other_team rule.
 *
 * The credentials inventory in PostgreSQL finds the credential's issuing ledger record, whose team is
 * the owner (whichever instance issued; never the row's owner_team alone), asked by
 * resolve() before a request about a credential is decided; what it finds is kept (a credential's
 * owner never changes), as is what this instance issued (AuditService); what it does not find is
 * asked again next time. Nothing is read at start-up.
 */
@Injectable()
export class CredentialOwners {
  private readonly owners = new Map<string, string>();

  constructor(@Inject(DATABASE) private readonly database: Database) {}

  record(vendor: Vendor, scope: string, id: string, team: string): void {
    if (vendor === undefined) return;
    this.owners.set(`${vendor}/${scope}/${id}`.toLowerCase(), team);
  }

  ownerOf(vendor: Vendor, scope: string, id: string): string | undefined {
    if (vendor === undefined) return undefined;
    return this.owners.get(`${vendor}/${scope}/${id}`.toLowerCase());
  }

  /**
   * Whether Keygate took this credential out of use (its inventory status revoked,
   * revoke_unverified, revoked_outside or compensated): a regeneration would bring it back, whatever
   * the vendor shows (a revocation the vendor ignored still shows the key valid). Read every time.
   */
  async outOfUse(vendor: 'qwiet' | 'octane', scope: string, id: string): Promise<boolean> {
    let rows: { status: string }[];
    try {
      ({ rows } = await this.database.query<{ status: string }>(
        'SELECT status FROM credentials WHERE vendor = $1 AND scope = $2 AND credential_id = $3',
        [vendor, scope, id.toLowerCase()],
      ));
    } catch {
      throw new GatewayError(
        503,
        ErrorCode.AUDIT_UNAVAILABLE,
        'the credentials inventory cannot be read for the credential’s status: Keygate refuses to change it until it can',
      );
    }
    return ['revoked', 'revoke_unverified', 'revoked_outside', 'compensated'].includes(
      rows[0]?.status ?? '',
    );
  }

  /** Reads the owner of the target's credential from the inventory, if not known yet. */
  async resolve(target: AuditTarget): Promise<void> {
    const { vendor, credential_id: id } = target;
    const scope = target.org_id ?? target.shared_space_id ?? '';
    if (vendor === undefined || id === undefined) return;
    if (this.ownerOf(vendor, scope, id) !== undefined) return;
    let rows: { owner_team: string }[];
    try {
      // The owner its issuing ledger record names (append-only, hash-chained), not the row's
      // owner_team (a database writer may have changed it): a row whose issued_seq is not a
      // record of this credential has no owner Keygate trusts.
      ({ rows } = await this.database.query<{ owner_team: string }>(
        `SELECT coalesce(r.target ->> 'owner_team', r.actor ->> 'team') AS owner_team
         FROM credentials c JOIN ledger_records r ON r.seq = c.issued_seq
         WHERE c.vendor = $1 AND c.scope = $2 AND c.credential_id = $3
           AND r.target ->> 'vendor' = c.vendor
           AND lower(r.target ->> 'credential_id') = c.credential_id
           AND lower(coalesce(r.target ->> 'org_id', r.target ->> 'shared_space_id')) = lower(c.scope)`,
        [vendor, scope, id.toLowerCase()],
      ));
    } catch {
      // The owner cannot be known: the change is refused like one that cannot be recorded.
      throw new GatewayError(
        503,
        ErrorCode.AUDIT_UNAVAILABLE,
        'the audit ledger cannot be read for the credential’s owner: Keygate refuses to change it until it can',
      );
    }
    if (rows[0]) this.record(vendor, scope, id, rows[0].owner_team);
  }
}
