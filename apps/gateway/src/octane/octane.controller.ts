import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Caller, CurrentCaller } from '@app/auth';
import type { FastifyReply } from 'fastify';
import { CurrentRequest, RequestMeta } from '../audit/request-meta';
import { relay } from '../common/vendor-reply';
import { CreateApiAccessRequestDto } from './dto/create-api-access.request.dto';
import { OctaneFieldsQueryDto, OctaneListQueryDto } from './dto/octane-list.query.dto';
import { ApiAccessParamsDto, SpaceParamsDto } from './dto/octane-params.dto';
import { OctaneEntityDto, OctaneErrorDto, OctaneListDto } from './dto/octane.response.dto';
import { UpdateApiAccessRequestDto } from './dto/update-api-access.request.dto';
import { OctaneService } from './octane.service';

/** ALM Octane shared-space roles and API access keys, drop-in: the vendor's paths after the /octane prefix. */
@ApiTags('Octane API access keys')
@ApiBearerAuth()
@ApiResponse({
  status: 400,
  type: OctaneErrorDto,
  description: 'Invalid request (each bad field named); nothing reached Octane',
})
@ApiResponse({
  status: 401,
  type: OctaneErrorDto,
  description: 'Missing, malformed, expired or wrongly signed company JWT',
})
@ApiResponse({
  status: 403,
  type: OctaneErrorDto,
  description:
    'The policy denied the request (POLICY_VIOLATION: each rule, its limit and the value sent), or Octane refused',
})
@ApiResponse({
  status: 502,
  type: OctaneErrorDto,
  description: 'Octane unreachable, unreadable, or refused Keygate’s key (UPSTREAM_*)',
})
@ApiResponse({
  status: 504,
  type: OctaneErrorDto,
  description: 'Octane did not answer in time (UPSTREAM_TIMEOUT)',
})
@Controller('octane/api/shared_spaces/:spaceId')
export class OctaneController {
  constructor(private readonly octane: OctaneService) {}

  @Get('roles')
  @ApiOperation({ summary: 'List roles of the shared space' })
  @ApiOkResponse({ type: OctaneListDto })
  async roles(
    @CurrentCaller() c: Caller,
    @Param() p: SpaceParamsDto,
    @Query() q: OctaneListQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return relay(reply, await this.octane.listRoles(c, p.spaceId, q));
  }

  @Get('workspace_roles')
  @ApiOperation({
    summary: 'List workspace roles (query, fields, limit, offset, order_by passed on)',
  })
  @ApiOkResponse({ type: OctaneListDto })
  async workspaceRoles(
    @CurrentCaller() c: Caller,
    @Param() p: SpaceParamsDto,
    @Query() q: OctaneListQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return relay(reply, await this.octane.listWorkspaceRoles(c, p.spaceId, q));
  }

  @Get('api_accesses')
  @ApiOperation({ summary: 'List API access keys (never their secrets)' })
  @ApiOkResponse({ type: OctaneListDto })
  async list(
    @CurrentCaller() c: Caller,
    @Param() p: SpaceParamsDto,
    @Query() q: OctaneListQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return relay(reply, await this.octane.listApiAccesses(c, p.spaceId, q));
  }

  @Post('api_accesses')
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an API access key (one per request)' })
  @ApiResponse({ status: 201, type: OctaneListDto })
  async create(
    @CurrentCaller() c: Caller,
    @CurrentRequest() meta: RequestMeta,
    @Param() p: SpaceParamsDto,
    @Query() q: OctaneFieldsQueryDto,
    @Body() body: CreateApiAccessRequestDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return relay(reply, await this.octane.createApiAccess(c, meta, p.spaceId, body, q.fields));
  }

  @Get('api_accesses/:id')
  @ApiOperation({ summary: 'Read one API access key' })
  @ApiOkResponse({ type: OctaneEntityDto })
  async get(
    @CurrentCaller() c: Caller,
    @Param() p: ApiAccessParamsDto,
    @Query() q: OctaneFieldsQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return relay(reply, await this.octane.getApiAccess(c, p.spaceId, p.id, q.fields));
  }

  @Put('api_accesses/:id')
  @ApiOperation({
    summary:
      'Revoke ({"is_valid": false}) or regenerate ({"is_valid": true, "client_secret": ...}) a key',
  })
  @ApiOkResponse({ type: OctaneEntityDto })
  async update(
    @CurrentCaller() c: Caller,
    @CurrentRequest() meta: RequestMeta,
    @Param() p: ApiAccessParamsDto,
    @Query() q: OctaneFieldsQueryDto,
    @Body() body: UpdateApiAccessRequestDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return relay(
      reply,
      await this.octane.updateApiAccess(c, meta, p.spaceId, p.id, body, q.fields),
    );
  }
}
