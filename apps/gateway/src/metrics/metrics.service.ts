import { Injectable } from '@nestjs/common';
import type { Decision } from '@app/policy';
import type { CircuitState, VendorCall } from '@app/upstream';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

/** Keygate's Prometheus metrics, in a registry of its own (one per app, so tests can run several). */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'keygate_http_requests_total',
    help: 'Requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });

  readonly decisions = new Counter({
    name: 'keygate_policy_decisions_total',
    help: 'Rules evaluated, by rule id and outcome (pass, violation, warning)',
    labelNames: ['rule', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly vendorLatency = new Histogram({
    name: 'keygate_vendor_request_duration_seconds',
    help: 'Vendor calls, by vendor, operation and outcome (HTTP status or failure)',
    labelNames: ['vendor', 'operation', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly auditWrite = new Histogram({
    name: 'keygate_audit_write_seconds',
    help: 'Audit batches: time to write, by step (write, fdatasync)',
    labelNames: ['step'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
    registers: [this.registry],
  });

  readonly auditRecords = new Counter({
    name: 'keygate_audit_records_total',
    help: 'Audit records written',
    registers: [this.registry],
  });

  readonly circuit = new Gauge({
    name: 'keygate_vendor_circuit_state',
    help: 'Circuit of each vendor: 0 closed, 1 half-open, 2 open',
    labelNames: ['vendor'] as const,
    registers: [this.registry],
  });

  readonly octaneSignIns = new Counter({
    name: 'keygate_octane_sign_ins_total',
    help: 'Octane sign-ins (the first of each session and every re-sign-in after an expiry)',
    registers: [this.registry],
  });

  constructor() {
    // prom-client's process and Node metrics under their standard names (process_cpu_seconds_total,
    // nodejs_heap_size_used_bytes, ...), so stock dashboards work; keygate_ is for Keygate's own.
    collectDefaultMetrics({ register: this.registry });
    for (const vendor of ['qwiet', 'octane']) this.circuit.set({ vendor }, 0);
  }

  observeDecision(decision: Decision): void {
    const broken = new Map<string, string>();
    for (const v of decision.violations) broken.set(v.rule, 'violation');
    for (const w of decision.warnings) if (!broken.has(w.rule)) broken.set(w.rule, 'warning');
    for (const rule of decision.evaluated)
      this.decisions.inc({ rule, outcome: broken.get(rule) ?? 'pass' });
  }

  observeVendorCall(call: VendorCall): void {
    this.vendorLatency.observe(
      { vendor: call.vendor, operation: call.operation, outcome: call.outcome },
      call.seconds,
    );
    if (call.operation === 'octane.sign_in') this.octaneSignIns.inc();
  }

  observeAuditBatch(batch: { records: number; writeSeconds: number; syncSeconds: number }): void {
    this.auditWrite.observe({ step: 'write' }, batch.writeSeconds);
    this.auditWrite.observe({ step: 'fdatasync' }, batch.syncSeconds);
    this.auditRecords.inc(batch.records);
  }

  observeCircuit(vendor: string, state: CircuitState): void {
    this.circuit.set({ vendor }, CIRCUIT_VALUE[state]);
  }
}
