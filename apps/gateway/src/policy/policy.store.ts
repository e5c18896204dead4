import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { FSWatcher, lstatSync, readFileSync, readlinkSync, realpathSync, watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { CompiledPolicy, compilePolicy, PolicyError } from '@app/policy';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';

export interface PolicyStatus {
  /** The file's base name: the absolute path stays inside the gateway. */
  file: string;
  revision: string;
  loadedAt: string;
  lastRejected?: { at: string; revision?: string; problems: string[] };
}

/** What the audit log is told of: the policy put in force (at start-up or by a reload), or a rejected file. */
export type PolicyChange =
  | { kind: 'loaded'; file: string; revision: string; previous?: string }
  | { kind: 'rejected'; file: string; revisionInForce: string; problems: string[] };

/** Writes a change to the audit log; a failure is the recorder's to report (the change stands). */
export type PolicyRecorder = (change: PolicyChange) => Promise<void>;

const RELOAD_DEBOUNCE_MS = 100;
/** Symbolic links followed before giving up on a chain (the kernel's own limit is 40). */
const MAX_LINKS = 40;

/**
 * The policy in force: loaded at start-up (an invalid file stops the gateway), reloaded when the
 * file changes. An invalid new version is rejected and logged; the last good one stays in force.
 *
 * The file may be a symbolic link, or a chain of them (a Kubernetes ConfigMap volume:
 * `policy.yaml -> ..data/policy.yaml`, `..data -> ..2026_11_30_xxx/`, replaced by renaming a new
 * `..data` link over the old one): the folder of the file and of every link's target are watched,
 * the links are resolved again on every change, and any change in those folders re-reads the
 * file. A read whose bytes did not change does nothing.
 *
 * Emits `reloaded` (the new revision) and `rejected` (the problems), each after the change has
 * been handed to the recorder (the audit log), so a listener finds the record written.
 */
@Injectable()
export class PolicyStore extends EventEmitter implements OnModuleDestroy {
  private readonly logger = new Logger('Policy');
  private readonly file: string;
  private current: CompiledPolicy;
  private loadedAt: Date;
  private lastRejected?: PolicyStatus['lastRejected'];
  /** Digest of the last bytes read (or of the read error): an unchanged file is not re-applied. */
  private lastRead: string;
  private readonly watchers = new Map<string, FSWatcher>();
  private debounce?: NodeJS.Timeout;
  private recorder?: PolicyRecorder;
  /** Reloads and records run one after another, in order. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    super();
    this.file = resolve(config.policyFile);
    const read = this.read(this.file);
    this.lastRead = read.digest;
    if (read.error) throw read.error;
    this.current = read.policy!;
    this.loadedAt = new Date();
    this.rewatch();
  }

  get policy(): CompiledPolicy {
    return this.current;
  }

  status(): PolicyStatus {
    return {
      file: basename(this.file),
      revision: this.current.revision,
      loadedAt: this.loadedAt.toISOString(),
      ...(this.lastRejected && { lastRejected: this.lastRejected }),
    };
  }

  /**
   * From now on every change goes to `recorder`; the policy loaded at start-up is recorded first.
   * Resolves once that first record has been handed over.
   */
  useRecorder(recorder: PolicyRecorder): Promise<void> {
    this.recorder = recorder;
    const startup: PolicyChange = {
      kind: 'loaded',
      file: basename(this.file),
      revision: this.current.revision,
    };
    return this.enqueue(() => this.record(startup));
  }

  /** Reads the file again; keeps the policy in force when the new one is invalid. */
  reload(): Promise<void> {
    return this.enqueue(() => this.reloadNow());
  }

  onModuleDestroy(): void {
    this.closed = true;
    clearTimeout(this.debounce);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(step, step);
    return this.queue;
  }

  private async reloadNow(): Promise<void> {
    if (this.closed) return;
    this.rewatch();
    const read = this.read(basename(this.file));
    if (read.digest === this.lastRead) return;
    this.lastRead = read.digest;
    const file = basename(this.file);
    if (read.error) {
      const problems = read.error.problems;
      const revisionInForce = this.current.revision;
      this.lastRejected = { at: new Date().toISOString(), problems };
      this.logger.warn(
        { file: this.file, problems, revision_in_force: revisionInForce },
        'policy reload rejected: the last good policy stays in force',
      );
      await this.record({ kind: 'rejected', file, revisionInForce, problems });
      this.emit('rejected', this.lastRejected);
      return;
    }
    const next = read.policy!;
    if (next.revision === this.current.revision) return;
    const previous = this.current.revision;
    this.current = next;
    this.loadedAt = new Date();
    this.logger.log({ file: this.file, revision: next.revision, previous }, 'policy reloaded');
    await this.record({ kind: 'loaded', file, revision: next.revision, previous });
    this.emit('reloaded', next.revision);
  }

  private async record(change: PolicyChange): Promise<void> {
    if (!this.recorder) return;
    try {
      await this.recorder(change);
    } catch (error) {
      this.logger.error(
        { kind: change.kind, error: (error as Error).message },
        'policy change could not be recorded in the audit log',
      );
    }
  }

  private changed(): void {
    if (this.closed) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload(), RELOAD_DEBOUNCE_MS);
  }

  /**
   * Folders to watch: the file's own, and the folder of each link's target down to the real
   * file, each by its real path (a watch follows the folder it was opened on, not its name).
   */
  private watchedFolders(): Set<string> {
    const real = (dir: string) => {
      try {
        return realpathSync(dir);
      } catch {
        return undefined;
      }
    };
    const folders = new Set<string>();
    const add = (dir: string | undefined) => dir !== undefined && folders.add(dir);
    add(real(dirname(this.file)));
    let path = this.file;
    for (let hop = 0; hop < MAX_LINKS; hop++) {
      try {
        if (!lstatSync(path).isSymbolicLink()) break;
        path = resolve(dirname(path), readlinkSync(path));
      } catch {
        break;
      }
      add(real(dirname(path)));
    }
    return folders;
  }

  /** Watches the folders the file now lives in, and stops watching those it left. */
  private rewatch(): void {
    if (this.closed) return;
    const wanted = this.watchedFolders();
    for (const [dir, watcher] of this.watchers) {
      if (wanted.has(dir)) continue;
      watcher.close();
      this.watchers.delete(dir);
    }
    for (const dir of wanted) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, () => this.changed());
        // A watched folder removed (an old ConfigMap version): look again at where the file is.
        watcher.on('error', () => {
          watcher.close();
          if (this.watchers.get(dir) === watcher) this.watchers.delete(dir);
          this.changed();
        });
        this.watchers.set(dir, watcher);
      } catch {
        // Gone between resolving and watching: the change that removed it triggers a new look.
      }
    }
  }

  /** Reads and checks the file; `name` is how problems refer to it. */
  private read(name: string): { digest: string; policy?: CompiledPolicy; error?: PolicyError } {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      const problem = `${name}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
      return { digest: `error:${problem}`, error: new PolicyError([problem]) };
    }
    const digest = createHash('sha256').update(text).digest('hex');
    try {
      const policy = compilePolicy(text);
      const problems = this.credentialProblems(policy);
      if (problems.length > 0) return { digest, error: new PolicyError(problems) };
      return { digest, policy };
    } catch (error) {
      if (error instanceof PolicyError) return { digest, error };
      return { digest, error: new PolicyError([(error as Error).message]) };
    }
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
