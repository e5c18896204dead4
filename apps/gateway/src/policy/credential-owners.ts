import { Injectable } from '@nestjs/common';

/**
 * Which team issued each credential Keygate issued, for the revocation.other_team rule.
 * Filled from the audit log at start-up and from every issuance recorded since (AuditService).
 */
@Injectable()
export class CredentialOwners {
  private readonly owners = new Map<string, string>();

  record(vendor: 'qwiet' | 'octane', scope: string, id: string, team: string): void {
    this.owners.set(`${vendor}/${scope}/${id}`.toLowerCase(), team);
  }

  ownerOf(vendor: 'qwiet' | 'octane', scope: string, id: string): string | undefined {
    return this.owners.get(`${vendor}/${scope}/${id}`.toLowerCase());
  }
}
