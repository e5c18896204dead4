import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AuditEntry, AuditRecord, readRecords } from '@app/audit';
import { OctaneClient, QwietClient } from '@app/upstream';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { AuditService } from './audit.service';

type Entity = Record<string, unknown>;
const listOf = (body: unknown, key: 'response' | 'data'): Entity[] => {
  const list = (body as Record<string, unknown> | null)?.[key];
  return Array.isArray(list) ? (list as Entity[]) : [];
};
const quoted = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * Crash recovery at start-up: an attempt with no outcome means the process died between the
 * vendor call and the outcome record. Each is reconciled against the vendor's lists: a credential
 * that was issued but never recorded (and so never handed out) is revoked and recorded
 * `compensated`; one that was not issued is recorded `failed`; revocations are checked.
 */
@Injectable()
export class AuditRecovery implements OnApplicationBootstrap {
  private readonly logger = new Logger('AuditRecovery');
  /** Outcomes recorded by the last reconciliation (for tests and the start-up log). */
  reconciled: AuditEntry[] = [];

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly audit: AuditService,
    private readonly qwiet: QwietClient,
    private readonly octane: OctaneClient,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.audit.health().ok) return;
    try {
      this.reconciled = await this.reconcile();
      if (this.reconciled.length > 0) {
        this.logger.warn(
          {
            reconciled: this.reconciled.map((r) => ({
              request_id: r.request_id,
              phase: r.phase,
              note: r.note,
            })),
          },
          'reconciled attempts a crash left without an outcome',
        );
      }
    } catch (error) {
      this.logger.error(
        { error: (error as Error).message },
        'crash recovery could not finish; it runs again at the next start',
      );
    }
  }

  async reconcile(): Promise<AuditEntry[]> {
    const records = readRecords(this.config.audit.dir);
    const settled = new Set(records.filter((r) => r.phase !== 'attempt').map((r) => r.request_id));
    const known = new Set(
      records.map((r) => r.target.credential_id).filter((id): id is string => id !== undefined),
    );
    const outcomes: AuditEntry[] = [];
    for (const attempt of records.filter(
      (r) => r.phase === 'attempt' && !settled.has(r.request_id),
    )) {
      const outcome = await this.reconcileOne(attempt, known);
      await this.audit.write([outcome]);
      if (outcome.target.credential_id) known.add(outcome.target.credential_id);
      outcomes.push(outcome);
    }
    return outcomes;
  }

  private async reconcileOne(attempt: AuditRecord, known: Set<string>): Promise<AuditEntry> {
    const { request_id, event, actor, target, decision } = attempt;
    const outcome = (
      phase: AuditEntry['phase'],
      note: string,
      extra: Partial<AuditEntry['target']> = {},
    ): AuditEntry => ({
      request_id,
      event,
      phase,
      actor,
      target: { ...target, ...extra },
      decision,
      note: `crash recovery: ${note}`,
    });
    const org = target.org_id ?? '';
    const space = target.shared_space_id ?? '';
    switch (event) {
      case 'qwiet.token.issue': {
        const tokens = listOf(
          (await this.qwiet.listTokens(org, { show_expired: 'true' })).body,
          'response',
        );
        const issued = tokens.find(
          (t) =>
            t.label === target.label &&
            t.role_id === target.role_ids?.[0] &&
            !known.has(String(t.id)),
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
          (k) => !known.has(String(k.id)) && k.is_valid === true,
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
