import { Injectable } from '@nestjs/common';
import type { AuditEntry } from '@app/audit';
import { OctaneClient, QwietClient } from '@app/upstream';

type Entity = Record<string, unknown>;
const listOf = (body: unknown, key: 'response' | 'data'): Entity[] => {
  const list = (body as Record<string, unknown> | null)?.[key];
  return Array.isArray(list) ? (list as Entity[]) : [];
};
const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Whether the audit log already shows this credential (then it is not an unrecorded one). */
export type IsRecorded = (credentialId: string) => boolean;

/**
 * Finds out at the vendor what became of a request whose outcome Keygate does not know (a crash,
 * or an answer lost after the vendor acted): a credential issued but never recorded, and so never
 * handed out, is revoked. Returns the outcome record to write.
 */
@Injectable()
export class CredentialReconciler {
  constructor(
    private readonly qwiet: QwietClient,
    private readonly octane: OctaneClient,
  ) {}

  async reconcile(attempt: AuditEntry, isRecorded: IsRecorded, why: string): Promise<AuditEntry> {
    const { target } = attempt;
    const outcome = (
      phase: AuditEntry['phase'],
      note: string,
      extra: Partial<AuditEntry['target']> = {},
    ): AuditEntry => ({
      ...attempt,
      phase,
      target: { ...target, ...extra },
      vendor: undefined,
      fingerprint: undefined,
      note: `${why}: ${note}`,
    });
    const org = target.org_id ?? '';
    const space = target.shared_space_id ?? '';
    switch (attempt.event) {
      case 'qwiet.token.issue': {
        const tokens = listOf(
          (await this.qwiet.listTokens(org, { show_expired: 'true' })).body,
          'response',
        );
        const issued = tokens.find(
          (t) =>
            t.label === target.label &&
            t.role_id === target.role_ids?.[0] &&
            !isRecorded(String(t.id)),
        );
        if (!issued) return outcome('failed', 'Qwiet shows no such token: none was issued');
        await this.qwiet.deleteToken(org, String(issued.id));
        return outcome('compensated', 'issued but never recorded nor handed out: revoked', {
          credential_id: String(issued.id),
        });
      }
      case 'qwiet.token.revoke': {
        const tokens = listOf(
          (await this.qwiet.listTokens(org, { show_expired: 'true' })).body,
          'response',
        );
        return tokens.some((t) => t.id === target.credential_id)
          ? outcome('failed', 'the token is still live at Qwiet')
          : outcome('succeeded', 'the token is gone at Qwiet');
      }
      case 'octane.api_access.create': {
        const answer = await this.octane.listApiAccesses(space, {
          query: `"name EQ ${quoted(target.name ?? '')}"`,
          fields: 'name,client_id,is_valid',
        });
        const issued = listOf(answer.body, 'data').find(
          (k) => !isRecorded(String(k.id)) && k.is_valid === true,
        );
        if (!issued) return outcome('failed', 'Octane shows no such key: none was created');
        await this.octane.updateApiAccess(space, String(issued.id), { is_valid: false });
        return outcome('compensated', 'created but never recorded nor handed out: revoked', {
          credential_id: String(issued.id),
          client_id: String(issued.client_id),
        });
      }
      case 'octane.api_access.revoke': {
        const key = (await this.octane.getApiAccess(space, target.credential_id ?? '', 'is_valid'))
          .body as Entity;
        return key.is_valid === false
          ? outcome('succeeded', 'the key is revoked at Octane')
          : outcome('failed', 'the key is still valid at Octane');
      }
      default:
        return outcome(
          'failed',
          'the outcome is unknown (a regeneration cannot be checked at Octane); the key was left as it is',
        );
    }
  }
}
