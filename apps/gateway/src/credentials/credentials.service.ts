import { Injectable, Logger } from '@nestjs/common';
import type { AuditRead } from '@app/audit';
import { Caller, GatewayRole } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { AuditService } from '../audit/audit.service';
import type { RequestMeta } from '../audit/request-meta';
import type { CredentialParamsDto, CredentialsQueryDto } from './dto/credentials.dto';
import {
  credentialHistory,
  findCredential,
  InventoryCredential,
  inventoryRead,
  listInventory,
} from './inventory';

/** Auditors and admins see every team's credentials; a member only their own team's. */
export const seesAllCredentials = (caller: Caller): boolean =>
  caller.roles.includes(GatewayRole.AUDITOR) || caller.roles.includes(GatewayRole.ADMIN);

/** The credentials inventory as callers read it (GET /v1/credentials...): SQL over its indexes. */
@Injectable()
export class CredentialsService {
  private readonly logger = new Logger('Credentials');

  constructor(private readonly audit: AuditService) {}

  async list(caller: Caller, meta: RequestMeta, q: CredentialsQueryDto) {
    const all = seesAllCredentials(caller);
    const page = await inventoryRead(
      listInventory(this.audit.ledger, {
        ...(!all && { visibleTeam: caller.team }),
        vendor: q.vendor,
        scope: q.scope,
        team: q.team,
        subject: q.subject,
        status: q.status,
        expiresBefore: q.expires_before,
        createdAfter: q.created_after,
        limit: q.limit ?? 100,
        cursor: q.cursor,
      }),
    );
    if (all) {
      const filters = Object.fromEntries(
        Object.entries({ resource: 'credentials', ...q }).filter(([, v]) => v !== undefined),
      ) as Record<string, string | number>;
      await this.recordRead(caller, meta, {
        kind: 'query',
        filters,
        records: page.credentials.length,
      });
    }
    return page;
  }

  /** One credential with its audit history; another team's is a 404 for a member (no probing). */
  async get(
    caller: Caller,
    meta: RequestMeta,
    p: CredentialParamsDto,
  ): Promise<{ credential: InventoryCredential; history: unknown[]; history_truncated: boolean }> {
    const key = { vendor: p.vendor, scope: p.scope, credential_id: p.id };
    const found = await inventoryRead(findCredential(this.audit.ledger, key));
    const all = seesAllCredentials(caller);
    // A member sees it when the row and its issuing ledger record both name their team.
    if (!found || (!all && (found.owner_team !== caller.team || !found.ledger_owned))) {
      throw new GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        `no ${p.vendor} credential ${p.id} in ${p.scope} that you may see`,
      );
    }
    const { ledger_owned: _owned, ...credential } = found;
    void _owned;
    const history = await inventoryRead(
      credentialHistory(this.audit.ledger, {
        vendor: credential.vendor,
        scope: credential.scope,
        credential_id: credential.credential_id,
      }),
    );
    if (all)
      await this.recordRead(caller, meta, {
        kind: 'query',
        filters: {
          resource: 'credential',
          vendor: credential.vendor,
          scope: credential.scope,
          credential_id: credential.credential_id,
        },
        records: history.records.length,
      });
    return { credential, history: history.records, history_truncated: history.truncated };
  }

  /** An auditor's or admin's read of the inventory, recorded like the audit reads (audit.read). */
  private recordRead(caller: Caller, meta: RequestMeta, read: AuditRead): Promise<void> {
    return this.audit.recordRead(caller, meta, read);
  }
}
