import { Injectable } from '@nestjs/common';
import type { AuditEntry } from '@app/audit';
import { OctaneClient, QwietClient, VendorResponse } from '@app/upstream';

type Entity = Record<string, unknown>;
const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * The mark Keygate puts in the description of every Qwiet token it issues: its own id of the
 * request (unique, never the caller's), so that a token whose answer was lost is recognised as
 * this request's and no other.
 */
export const issuanceMarker = (requestId: string): string => `[keygate:${requestId}]`;

/** What a reconciliation knows besides the attempt record. */
export interface ReconcileContext {
  /** Whether the ledger already shows this credential (then it is not an unrecorded one). */
  isRecorded: (credentialId: string) => boolean;
  /** The secret the request sent, when this process still holds it (never after a restart). */
  secret?: { value: string; generated: boolean };
  /** When the attempt was made, and until when the vendor may still act on it (epoch ms). */
  window: { from: number; to: number };
  /** The window has passed: what is not found now was never issued. */
  final: boolean;
  /** Why the question is asked: `crash recovery` or `lost answer` (the note's prefix). */
  why: string;
}

/** Nothing is found yet and the vendor may still act: ask again later. */
export const PENDING = 'pending';

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

/** Clocks of Keygate and the vendor may differ by this much when a creation time is compared. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Finds out at the vendor what became of a request whose outcome Keygate does not know (a crash,
 * or an answer lost after the vendor acted). Only a credential this request is proven to have
 * created is revoked: a Qwiet token carrying the request's marker, an Octane key that accepts the
 * secret this request sent. Anything else that merely looks like it is left alone, and named in
 * the record for an admin. Returns the outcome record to write, or PENDING while the vendor may
 * still act; throws when the vendor's answers leave the question open.
 */
@Injectable()
export class CredentialReconciler {
  constructor(
    private readonly qwiet: QwietClient,
    private readonly octane: OctaneClient,
  ) {}

  async reconcile(attempt: AuditEntry, ctx: ReconcileContext): Promise<AuditEntry | 'pending'> {
    const { target } = attempt;
    const outcome = (
      phase: AuditEntry['phase'],
      note: string,
      extra: Partial<AuditEntry> = {},
    ): AuditEntry => ({
      ...attempt,
      phase,
      vendor: undefined,
      fingerprint: undefined,
      ...extra,
      target: { ...target, ...extra.target },
      note: `${ctx.why}: ${note}`,
    });
    const org = target.org_id ?? '';
    const space = target.shared_space_id ?? '';
    const qwietTokens = async () =>
      listIn(await this.qwiet.listTokens(org, { show_expired: 'true' }), 'response');

    switch (attempt.event) {
      case 'qwiet.token.issue': {
        const marker = issuanceMarker(attempt.request_id);
        const mine = (await qwietTokens()).filter(
          (t) =>
            !ctx.isRecorded(String(t.id)) &&
            typeof t.description === 'string' &&
            t.description.includes(marker),
        );
        if (mine.length === 0) {
          return ctx.final
            ? outcome('failed', 'Qwiet shows no token with this request’s marker: none was issued')
            : PENDING;
        }
        for (const t of mine) conclusive(await this.qwiet.deleteToken(org, String(t.id)));
        return outcome(
          'compensated',
          `issued (marker ${marker}) but never recorded nor handed out: revoked ${mine.map((t) => t.id).join(', ')}`,
          { target: { credential_id: String(mine[0].id) } },
        );
      }
      case 'qwiet.token.revoke':
        return (await qwietTokens()).some(
          (t) => String(t.id).toLowerCase() === target.credential_id?.toLowerCase(),
        )
          ? outcome('failed', 'the token is still live at Qwiet')
          : outcome('succeeded', 'the token is gone at Qwiet');
      case 'octane.api_access.create':
        return this.lostOctaneKey(attempt, ctx, outcome);
      case 'octane.api_access.revoke':
        return conclusive(
          await this.octane.getApiAccess(space, target.credential_id ?? '', 'is_valid'),
        ).is_valid === false
          ? outcome('succeeded', 'the key is revoked at Octane')
          : outcome('failed', 'the key is still valid at Octane');
      case 'octane.api_access.regenerate': {
        const clientId = target.client_id;
        if (!ctx.secret || !clientId) {
          return outcome(
            'failed',
            'the outcome is unknown (Keygate no longer holds the secret sent, only its fingerprint in the attempt); the key was left as it is: an admin must check it',
          );
        }
        if (!(await this.octane.acceptsKey(clientId, ctx.secret.value))) {
          return ctx.final
            ? outcome('failed', 'the key does not take the new secret: it was not regenerated')
            : PENDING;
        }
        if (!ctx.secret.generated) {
          return outcome('succeeded', 'the key takes the secret the caller sent: regenerated', {
            fingerprint: attempt.fingerprint,
          });
        }
        conclusive(
          await this.octane.updateApiAccess(space, target.credential_id ?? '', { is_valid: false }),
        );
        return outcome(
          'compensated',
          'regenerated with a secret Keygate generated and never handed out: revoked',
        );
      }
      default:
        return outcome('failed', 'not a change Keygate can check at the vendor');
    }
  }

  /**
   * An Octane create whose answer was lost: the unrecorded valid keys of that name created in the
   * window are the candidates. With the secret sent still in hand, each is proven by signing in
   * with it; without it (after a restart) no candidate can be proven, and none is revoked.
   */
  private async lostOctaneKey(
    attempt: AuditEntry,
    ctx: ReconcileContext,
    outcome: (phase: AuditEntry['phase'], note: string, extra?: Partial<AuditEntry>) => AuditEntry,
  ): Promise<AuditEntry | 'pending'> {
    const space = attempt.target.shared_space_id ?? '';
    const answer = await this.octane.listApiAccesses(space, {
      query: `"name EQ ${quoted(attempt.target.name ?? '')}"`,
      fields: 'name,client_id,is_valid,creation_time',
    });
    const candidates = listIn(answer, 'data').filter((k) => {
      const created = Date.parse(String(k.creation_time ?? ''));
      return (
        !ctx.isRecorded(String(k.id)) &&
        k.is_valid === true &&
        (Number.isNaN(created) ||
          (created >= ctx.window.from - CLOCK_SKEW_MS && created <= ctx.window.to + CLOCK_SKEW_MS))
      );
    });
    const secret = ctx.secret;
    if (secret) {
      const mine: Entity[] = [];
      for (const k of candidates) {
        if (await this.octane.acceptsKey(String(k.client_id), secret.value)) mine.push(k);
      }
      if (mine.length === 0) {
        return ctx.final
          ? outcome(
              'failed',
              'Octane shows no key that takes this request’s secret: none was created',
            )
          : PENDING;
      }
      for (const k of mine) {
        conclusive(await this.octane.updateApiAccess(space, String(k.id), { is_valid: false }));
      }
      return outcome(
        'compensated',
        `created (it takes the secret this request sent) but never recorded nor handed out: revoked ${mine.map((k) => k.id).join(', ')}`,
        { target: { credential_id: String(mine[0].id), client_id: String(mine[0].client_id) } },
      );
    }
    if (!ctx.final) return PENDING;
    if (candidates.length === 0) {
      return outcome('failed', 'Octane shows no unrecorded key of this name: none was created');
    }
    return outcome(
      'failed',
      `ambiguous: unrecorded valid keys named ${JSON.stringify(attempt.target.name)} created in the window (${candidates.map((k) => k.id).join(', ')}), and Keygate no longer holds the secret that would prove which one this request created: none revoked; an admin must check them`,
    );
  }
}
