import { Injectable } from '@nestjs/common';
import type { AuditTarget } from '@app/audit';

/** A record's vendor: absent on the gateway's own records, which own no credential. */
type Vendor = AuditTarget['vendor'];

/**
 * Which team issued each credential Keygate issued, for the revocation.other_team rule.
 * Filled from the audit log at start-up and from every issuance recorded since (AuditService).
 */
@Injectable()
export class CredentialOwners {
  private readonly owners = new Map<string, string>();

  record(vendor: Vendor, scope: string, id: string, team: string): void {
    if (vendor === undefined) return;
    this.owners.set(`${vendor}/${scope}/${id}`.toLowerCase(), team);
  }

  ownerOf(vendor: Vendor, scope: string, id: string): string | undefined {
    if (vendor === undefined) return undefined;
    return this.owners.get(`${vendor}/${scope}/${id}`.toLowerCase());
  }
}
