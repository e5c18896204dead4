import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, CurrentCaller, GatewayRole, RequireAnyRole } from '@app/auth';
import { CurrentRequest, RequestMeta } from '../audit/request-meta';
import { CredentialsService } from './credentials.service';
import {
  CredentialParamsDto,
  CredentialsQueryDto,
  LeakRequestDto,
  OffboardRequestDto,
} from './dto/credentials.dto';
import { LeaksService } from './leaks.service';
import { OffboardingService } from './offboarding.service';

@ApiTags('Credentials')
@ApiBearerAuth()
@Controller('v1/credentials')
export class CredentialsController {
  constructor(
    private readonly credentials: CredentialsService,
    private readonly offboarding: OffboardingService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'The credentials inventory, both vendors, newest first in keyset pages',
    description:
      'Members see their own team’s credentials; keygate:auditor and keygate:admin see every ' +
      'team’s (their reads are recorded as audit.read). Order: created_at, vendor, scope, ' +
      'credential_id, descending; pass next_cursor as cursor for the next page.',
  })
  @ApiOkResponse({ description: '{ credentials: Credential[], next_cursor? }' })
  list(
    @Query() query: CredentialsQueryDto,
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
  ) {
    return this.credentials.list(caller, meta, query);
  }

  @Post('revoke')
  @HttpCode(200)
  @RequireAnyRole(GatewayRole.ADMIN)
  @ApiOperation({
    summary: 'Offboarding: revoke every active credential of a subject or team (admin)',
    description:
      'Each credential is revoked through the issuance pipeline (decided, audited, verified), ' +
      'four at a time; one failing does not stop the others. dry_run lists what would be revoked ' +
      'and changes nothing. Ends with one offboarding.done record.',
  })
  @ApiOkResponse({
    description:
      '{ dry_run, subject?, team?, vendor?, found, revoked, failed, credentials: [{ vendor, scope, credential_id, name, owner_team, subject, outcome, vendor_status?, error?, request_id?, status }] }',
  })
  revoke(
    @Body() body: OffboardRequestDto,
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
  ) {
    return this.offboarding.offboard(caller, meta, body);
  }

  @Get(':vendor/:scope/:id')
  @ApiOperation({
    summary: 'One credential with its audit history (another team’s is a 404 for a member)',
  })
  @ApiOkResponse({ description: '{ credential, history: AuditRecord[], history_truncated }' })
  get(
    @Param() params: CredentialParamsDto,
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
  ) {
    return this.credentials.get(caller, meta, params);
  }
}

@ApiTags('Credentials')
@ApiBearerAuth()
@RequireAnyRole(GatewayRole.ADMIN)
@Controller('v1/leaks')
export class LeaksController {
  constructor(private readonly leaks: LeaksService) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'A leaked secret: find its credential by fingerprint and revoke it (admin)',
    description:
      'The secret is only fingerprinted, never stored, logged or answered. Found: revoked through ' +
      'the issuance pipeline, leak.revoked recorded with its owner. Unknown: 404, and a ' +
      'leak.lookup record with the fingerprint. Found but not revoked: 502 REVOCATION_FAILED.',
  })
  @ApiOkResponse({
    description: '{ fingerprint, credentials: [Credential & { outcome, status }] }',
  })
  revoke(
    @Body() body: LeakRequestDto,
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
  ) {
    return this.leaks.revokeLeaked(caller, meta, body.secret);
  }
}
