import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { AuditEntry } from '@app/audit';
import { AuditService } from '../audit/audit.service';
import { PolicyChange, PolicyStore } from './policy.store';

const KEYGATE = { subject: 'keygate', team: 'keygate' };

/** The audit record of a policy change: policy.loaded (start-up and reloads) or policy.rejected. */
export function policyAuditEntry(change: PolicyChange, requestId: string): AuditEntry {
  if (change.kind === 'loaded') {
    return {
      request_id: requestId,
      event: 'policy.loaded',
      phase: 'succeeded',
      actor: KEYGATE,
      target: {},
      policy: {
        file: change.file,
        revision: change.revision,
        ...(change.previous !== undefined && { previous_revision: change.previous }),
      },
    };
  }
  return {
    request_id: requestId,
    event: 'policy.rejected',
    phase: 'failed',
    actor: KEYGATE,
    target: {},
    policy: {
      file: change.file,
      revision_in_force: change.revisionInForce,
      problems: change.problems,
    },
  };
}

/**
 * Puts every policy change in the audit log, not only in the process log: the policy in force at
 * start-up, each reload (revision and the one it replaced) and each rejected file (its problems,
 * the revision that stays). When the log cannot be written the change still applies (the store
 * logs the failure). The audit service lives in a module that imports this one, so it is looked
 * up once the application is wired.
 */
@Injectable()
export class PolicyAuditLog implements OnApplicationBootstrap {
  private readonly logger = new Logger('Policy');

  constructor(
    private readonly store: PolicyStore,
    private readonly moduleRef: ModuleRef,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    let audit: AuditService;
    try {
      audit = this.moduleRef.get(AuditService, { strict: false });
    } catch {
      this.logger.warn('no audit log in this application: policy changes are only logged');
      return;
    }
    await this.store.useRecorder(async (change) => {
      const atStartup = change.kind === 'loaded' && change.previous === undefined;
      await audit.write([
        policyAuditEntry(change, atStartup ? 'startup' : `policy-${randomUUID()}`),
      ]);
    });
  }
}
