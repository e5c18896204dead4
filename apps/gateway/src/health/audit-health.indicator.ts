import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { AuditService } from '../audit/audit.service';

/** Ready only while the audit log can be written: without it Keygate refuses every change. */
@Injectable()
export class AuditHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly audit: AuditService,
  ) {}

  check() {
    const indicator = this.health.check('audit');
    const sink = this.audit.health();
    return sink.ok
      ? indicator.up({ file: sink.file, seq: sink.seq })
      : indicator.down({
          message: `audit log cannot be written: ${sink.error}`,
          sink: sink.file,
          since: sink.since,
        });
  }
}
