import type { AuditEvent } from '@app/audit';
import type { AnyOperation } from './operation';

/** Every operation by its event: what recovery and lost answers ask the vendor with. */
export class OperationsRegistry {
  private readonly byEvent = new Map<AuditEvent, AnyOperation>();

  constructor(operations: AnyOperation[]) {
    for (const op of operations) this.byEvent.set(op.event, op);
  }

  of(event: AuditEvent): AnyOperation | undefined {
    return this.byEvent.get(event);
  }
}
