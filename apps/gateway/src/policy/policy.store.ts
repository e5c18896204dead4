import { EventEmitter } from 'node:events';
import { FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { CompiledPolicy, compilePolicy, PolicyError } from '@app/policy';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';

export interface PolicyStatus {
  file: string;
  revision: string;
  loadedAt: string;
  lastRejected?: { at: string; revision?: string; problems: string[] };
}

const RELOAD_DEBOUNCE_MS = 100;

/**
 * The policy in force: loaded at start-up (an invalid file stops the gateway), reloaded when the
 * file changes. An invalid new version is rejected and logged; the last good one stays in force.
 * Emits `reloaded` and `rejected`.
 */
@Injectable()
export class PolicyStore extends EventEmitter implements OnModuleDestroy {
  private readonly logger = new Logger('Policy');
  private readonly file: string;
  private current: CompiledPolicy;
  private loadedAt: Date;
  private lastRejected?: PolicyStatus['lastRejected'];
  private watcher?: FSWatcher;
  private debounce?: NodeJS.Timeout;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    super();
    this.file = resolve(config.policyFile);
    this.current = this.read();
    this.loadedAt = new Date();
    this.watcher = watch(dirname(this.file), (_event, name) => {
      if (name !== basename(this.file)) return;
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.reload(), RELOAD_DEBOUNCE_MS);
    });
  }

  get policy(): CompiledPolicy {
    return this.current;
  }

  status(): PolicyStatus {
    return {
      file: this.file,
      revision: this.current.revision,
      loadedAt: this.loadedAt.toISOString(),
      ...(this.lastRejected && { lastRejected: this.lastRejected }),
    };
  }

  /** Reads the file again; keeps the policy in force when the new one is invalid. */
  reload(): void {
    let next: CompiledPolicy;
    try {
      next = this.read();
    } catch (error) {
      const problems = error instanceof PolicyError ? error.problems : [(error as Error).message];
      this.lastRejected = { at: new Date().toISOString(), problems };
      this.logger.warn(
        { file: this.file, problems, revision_in_force: this.current.revision },
        'policy reload rejected: the last good policy stays in force',
      );
      this.emit('rejected', this.lastRejected);
      return;
    }
    if (next.revision === this.current.revision) return;
    const previous = this.current.revision;
    this.current = next;
    this.loadedAt = new Date();
    this.logger.log({ file: this.file, revision: next.revision, previous }, 'policy reloaded');
    this.emit('reloaded', next.revision);
  }

  onModuleDestroy(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
  }

  private read(): CompiledPolicy {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      throw new PolicyError([
        `${this.file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      ]);
    }
    const policy = compilePolicy(text);
    const problems = this.credentialProblems(policy);
    if (problems.length > 0) throw new PolicyError(problems);
    return policy;
  }

  /** A team may only be given orgs and shared spaces Keygate holds credentials for. */
  private credentialProblems(policy: CompiledPolicy): string[] {
    const problems: string[] = [];
    for (const [team, scope] of policy.teams) {
      for (const org of scope.qwietOrgs) {
        if (!Object.hasOwn(this.config.qwiet.orgTokens, org)) {
          problems.push(
            `teams.${team}.qwiet_orgs: Keygate holds no Qwiet token for org ${org} (QWIET_ORG_TOKENS)`,
          );
        }
      }
      for (const space of scope.octaneSharedSpaces) {
        if (!Object.hasOwn(this.config.octane.sharedSpaces, space)) {
          problems.push(
            `teams.${team}.octane_shared_spaces: Keygate holds no Octane key for shared space ${space} (OCTANE_CREDENTIALS)`,
          );
        }
      }
    }
    return problems;
  }
}
