import { Injectable } from '@nestjs/common';
import type { AuditEntry } from '@app/audit';
import { OctaneClient, QwietClient, VendorResponse } from '@app/upstream';

type Entity = Record<string, unknown>;
const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Whether the audit log already shows this credential (then it is not an unrecorded one). */
export type IsRecorded = (credentialId: string) => boolean;

/** The vendor's answer, when it answers the question; otherwise the question stays open (throws). */
function conclusive(answer: VendorResponse): Entity {
  if (answer.status !== 200 || typeof answer.body !== 'object' || answer.body === null) {
    throw new Error(`inconclusive: the vendor answered ${answer.status}`);
  }
  return answer.body as Entity;
}

function listIn(answer: VendorResponse, key: 'response' | 'data'): Entity[] {
  const list = conclusive(answer)[key];
  if (!Array.isArray(list)) throw new Error('inconclusive: the vendor answered no list');
  return list as Entity[];
}

/**
 * Finds out at the vendor what became of a request whose outcome Keygate does not know (a crash,
 * or an answer lost after the vendor acted): a credential issued but never recorded, and so never
 * handed out, is revoked. Returns the outcome record to write; throws when the vendor's answers
 * leave the question open, so that the caller asks again later.
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
    const qwietTokens = async () =>
      listIn(await this.qwiet.listTokens(org, { show_expired: 'true' }), 'response');

    switch (attempt.event) {
      case 'qwiet.token.issue': {
        const issued = (await qwietTokens()).find(
          (t) =>
            t.label === target.label &&
            t.role_id === target.role_ids?.[0] &&
            !isRecorded(String(t.id)),
        );
        if (!issued) return outcome('failed', 'Qwiet shows no such token: none was issued');
        conclusive(await this.qwiet.deleteToken(org, String(issued.id)));
        return outcome('compensated', 'issued but never recorded nor handed out: revoked', {
          credential_id: String(issued.id),
        });
      }
      case 'qwiet.token.revoke':
        return (await qwietTokens()).some((t) => t.id === target.credential_id)
          ? outcome('failed', 'the token is still live at Qwiet')
          : outcome('succeeded', 'the token is gone at Qwiet');
      case 'octane.api_access.create': {
        const answer = await this.octane.listApiAccesses(space, {
          query: `"name EQ ${quoted(target.name ?? '')}"`,
          fields: 'name,client_id,is_valid',
        });
        const issued = listIn(answer, 'data').find(
          (k) => !isRecorded(String(k.id)) && k.is_valid === true,
        );
        if (!issued) return outcome('failed', 'Octane shows no such key: none was created');
        conclusive(
          await this.octane.updateApiAccess(space, String(issued.id), { is_valid: false }),
        );
        return outcome('compensated', 'created but never recorded nor handed out: revoked', {
          credential_id: String(issued.id),
          client_id: String(issued.client_id),
        });
      }
      case 'octane.api_access.revoke':
        return conclusive(
          await this.octane.getApiAccess(space, target.credential_id ?? '', 'is_valid'),
        ).is_valid === false
          ? outcome('succeeded', 'the key is revoked at Octane')
          : outcome('failed', 'the key is still valid at Octane');
      default:
        return outcome(
          'failed',
          'the outcome is unknown (a regeneration cannot be checked at Octane); the key was left as it is',
        );
    }
  }
}
