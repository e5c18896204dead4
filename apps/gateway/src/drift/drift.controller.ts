import { Controller, Get, HttpCode, Logger, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { Caller, CurrentCaller, GatewayRole, RequireAnyRole } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import { AuditService } from '../audit/audit.service';
import { CurrentRequest, RequestMeta } from '../audit/request-meta';
import { DriftQueryDto } from './dto/drift-query.dto';
import { DriftQueryService } from './drift-query.service';
import { PassInProgress, Reconciler } from './reconciler.service';

@ApiTags('Drift')
@ApiBearerAuth()
@Controller('v1')
export class DriftController {
  private readonly logger = new Logger('Drift');

  constructor(
    private readonly reconciler: Reconciler,
    private readonly query: DriftQueryService,
    private readonly audit: AuditService,
  ) {}

  @Post('reconcile')
  @HttpCode(200)
  @RequireAnyRole(GatewayRole.ADMIN)
  @ApiOperation({
    summary: 'Run a reconciliation pass now and answer its summary (admin)',
    description:
      'Lists every configured Qwiet org and Octane shared space and compares them with the inventory; one instance at a time.',
  })
  @ApiOkResponse({
    description: '{ seq, pass: { pass_id, scopes, totals, revocations, errors, ... } }',
  })
  @ApiConflictResponse({
    description: 'RECONCILE_IN_PROGRESS: a pass is running (here or in another instance)',
  })
  async reconcile(@CurrentCaller() caller: Caller) {
    try {
      const done = await this.reconciler.run('request', caller);
      // A pass on request is never skipped.
      return { seq: done!.seq, pass: done!.summary };
    } catch (error) {
      if (error instanceof PassInProgress)
        throw new GatewayError(
          409,
          ErrorCode.RECONCILE_IN_PROGRESS,
          'a reconciliation pass is in progress: its findings will be in GET /v1/drift',
        );
      throw error;
    }
  }

  @Get('drift')
  @RequireAnyRole(GatewayRole.ADMIN, GatewayRole.SECURITY, GatewayRole.AUDITOR)
  @ApiOperation({
    summary: 'What the last reconciliation passes found, newest first (admin, security, auditor)',
  })
  @ApiOkResponse({
    description:
      '{ passes: [{ seq, time, pass, findings: AuditRecord[] }], next_before_seq? }: each pass (drift.pass) with the records it wrote (drift.unknown_credential, drift.revoked_outside, credential.expired) and the revocations it asked for',
  })
  async list(
    @Query() query: DriftQueryDto,
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
  ) {
    const page = await this.query.passes(query.limit ?? 10, query.before_seq);
    // A read of the ledger, recorded as auditors' reads are (best effort: the answer never waits
    // on a ledger that cannot be written).
    await this.audit.recordRead(caller, meta, {
      kind: 'query',
      filters: { route: '/v1/drift', ...query },
      records: page.passes.reduce((n, p) => n + 1 + p.findings.length, 0),
    });
    return page;
  }
}
