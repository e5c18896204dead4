import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { GatewayRole, RequireAnyRole } from '@app/auth';
import { AuditQueryService } from './audit-query.service';
import { AuditQueryDto, FingerprintRequestDto } from './dto/audit-query.dto';

@ApiTags('Audit')
@ApiBearerAuth()
@RequireAnyRole(GatewayRole.AUDITOR, GatewayRole.ADMIN)
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditQueryService) {}

  @Get()
  @ApiOperation({ summary: 'Audit records, newest first, filtered and paged (auditor or admin)' })
  @ApiOkResponse({ description: '{ records: AuditRecord[], next_before_seq? }' })
  query(@Query() query: AuditQueryDto) {
    return this.audit.query(query);
  }

  @Post('fingerprint')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The fingerprint of a leaked secret, and every record of it (auditor or admin)',
  })
  @ApiOkResponse({ description: '{ fingerprint, records }' })
  fingerprint(@Body() body: FingerprintRequestDto) {
    return this.audit.byFingerprintOf(body.secret);
  }

  @Get('verify')
  @ApiOperation({ summary: 'Verify the hash chain of the live log (auditor or admin)' })
  @ApiOkResponse({
    description: '{ ok, records, segments, first, last, head, problem?, proves, live_seq }',
  })
  verify() {
    return this.audit.verify();
  }
}
