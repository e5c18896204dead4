export const FAULT_KINDS = [
  'latency',
  'status',
  'reset',
  'hang',
  'lost_answer',
  'expire_session',
  /**
   * A revocation (`qwiet.tokens.delete`, `octane.api_accesses.update` with `is_valid: false`)
   * answered as done while the credential keeps working: still listed, still valid, still signs in.
   */
  'revoke_ignored',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpec {
  /** Operation name (`qwiet.tokens.create`, `octane.api_accesses.update`, ...) or `*` for every route. */
  op: string;
  kind: FaultKind;
  /** `latency`: added delay before the normal answer; `status`: before the fault's answer. */
  latency_ms?: number;
  /** `status` and `lost_answer`: the status to answer (default 500) ... */
  status?: number;
  /** ... and the body (default: the vendor's error envelope for that status). */
  body?: unknown;
  /** How many matching requests the fault applies to; absent = until cleared. */
  times?: number;
}

export interface Fault extends FaultSpec {
  id: number;
  hits: number;
}

/** Faults injected per route by tests and demos through `/__sim/faults`. */
export class FaultInjector {
  private faults: Fault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): Fault {
    const fault: Fault = { ...spec, id: this.nextId++, hits: 0 };
    this.faults.push(fault);
    return fault;
  }

  list(): readonly Fault[] {
    return this.faults;
  }

  clear(): void {
    this.faults = [];
  }

  /** The first active fault for this operation, consumed once. */
  take(op: string): Fault | undefined {
    const fault = this.faults.find(
      (f) => (f.op === op || f.op === '*') && (f.times === undefined || f.hits < f.times),
    );
    if (fault) fault.hits++;
    return fault;
  }
}

export function validateFaultSpec(input: unknown): { spec?: FaultSpec; errors: string[] } {
  const errors: string[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { errors: ['body must be a JSON object'] };
  }
  const raw = input as Record<string, unknown>;
  if (typeof raw.op !== 'string' || raw.op.length === 0)
    errors.push('op must be a non-empty string');
  if (!FAULT_KINDS.includes(raw.kind as FaultKind)) {
    errors.push(`kind must be one of ${FAULT_KINDS.join(', ')}`);
  }
  for (const key of ['latency_ms', 'status', 'times'] as const) {
    const v = raw[key];
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < 0)) {
      errors.push(`${key} must be a non-negative integer`);
    }
  }
  if (raw.status !== undefined && ((raw.status as number) < 100 || (raw.status as number) > 599)) {
    errors.push('status must be an HTTP status code');
  }
  if (errors.length > 0) return { errors };
  return { spec: raw as unknown as FaultSpec, errors };
}
