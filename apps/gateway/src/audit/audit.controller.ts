import { Body, Controller, Get, HttpCode, Inject, Logger, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditRead, AuditRecord, legacyFingerprint } from '@app/audit';
import { Caller, CurrentCaller, GatewayRole, RequireAnyRole } from '@app/auth';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { AuditQueryService } from './audit-query.service';
import { AuditService } from './audit.service';
import { AuditQueryDto, FingerprintRequestDto } from './dto/audit-query.dto';
import { CurrentRequest, RequestMeta } from './request-meta';

const LOOKUP_LIMIT = 500;

@ApiTags('Audit')
@ApiBearerAuth()
@RequireAnyRole(GatewayRole.AUDITOR, GatewayRole.ADMIN)
@Controller('v1/audit')
export class AuditController {
  private readonly logger = new Logger('Audit');

  constructor(
    private readonly audit: AuditQueryService,
    private readonly ledger: AuditService,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Audit records, newest first, filtered and paged (auditor or admin)' })
  @ApiOkResponse({ description: '{ records: AuditRecord[], next_before_seq? }' })
  async query(
    @Query() query: AuditQueryDto,
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
  ) {
    const page = await this.audit.query(query);
    const filters = Object.fromEntries(
      Object.entries(query).filter(([, v]) => v !== undefined),
    ) as Record<string, string | number>;
    await this.recordRead(caller, meta, {
      kind: 'query',
      filters,
      records: page.records.length,
    });
    return page;
  }

  @Post('fingerprint')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The fingerprint of a leaked secret, and every record of it (auditor or admin)',
  })
  @ApiOkResponse({ description: '{ fingerprint, records }' })
  async fingerprint(
    @Body() body: FingerprintRequestDto,
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
  ) {
    const found = await this.audit.byFingerprintOf(body.secret);
    // Records an earlier release wrote carry the raw-key fingerprint: looked for too, never answered.
    const legacy = legacyFingerprint(this.config.audit.hmacKey, body.secret);
    const old = (await this.audit.query({ fingerprint: legacy, limit: LOOKUP_LIMIT })).records;
    const records: AuditRecord[] = [...found.records, ...old]
      .sort((a, b) => b.seq - a.seq)
      .slice(0, LOOKUP_LIMIT);
    await this.recordRead(caller, meta, {
      kind: 'fingerprint',
      fingerprint: found.fingerprint,
      records: records.length,
    });
    return { fingerprint: found.fingerprint, records };
  }

  @Get('verify')
  @ApiOperation({ summary: 'Verify the hash chain of the live log (auditor or admin)' })
  @ApiOkResponse({
    description: '{ ok, records, first, last, head, checkpoint?, problem?, proves, live_seq }',
  })
  async verify(@CurrentCaller() caller: Caller, @CurrentRequest() meta: RequestMeta) {
    const result = await this.audit.verify();
    await this.recordRead(caller, meta, { kind: 'verify', records: result.records });
    return result;
  }

  private recordRead(caller: Caller, meta: RequestMeta, read: AuditRead): Promise<void> {
    return this.ledger.recordRead(caller, meta, read);
  }
}
