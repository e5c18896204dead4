import { Body, Controller, Delete, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Caller, CurrentCaller } from '@app/auth';
import type { FastifyReply } from 'fastify';
import { CurrentRequest, RequestMeta } from '../audit/request-meta';
import { relay } from '../common/vendor-reply';
import { CreateTokenRequestDto } from './dto/create-token.request.dto';
import { ListTokensQueryDto } from './dto/list-tokens.query.dto';
import { OrgParamsDto, TokenParamsDto } from './dto/qwiet-params.dto';
import {
  QwietCreatedAnswerDto,
  QwietErrorDto,
  QwietOkDto,
  QwietRolesAnswerDto,
  QwietTokensAnswerDto,
} from './dto/qwiet.response.dto';
import { QwietService } from './qwiet.service';

/** Qwiet API v4 roles and tokens, drop-in: the vendor's paths after the /qwiet prefix. */
@ApiTags('Qwiet tokens')
@ApiBearerAuth()
@ApiResponse({
  status: 400,
  type: QwietErrorDto,
  description: 'Invalid request (each bad field named); nothing reached Qwiet',
})
@ApiResponse({
  status: 401,
  type: QwietErrorDto,
  description: 'Missing, malformed, expired or wrongly signed company JWT',
})
@ApiResponse({
  status: 403,
  type: QwietErrorDto,
  description:
    'The policy denied the request (POLICY_VIOLATION: each rule, its limit and the value sent), or Qwiet refused',
})
@ApiResponse({
  status: 502,
  type: QwietErrorDto,
  description: 'Qwiet unreachable or answered something unreadable (UPSTREAM_*)',
})
@ApiResponse({
  status: 504,
  type: QwietErrorDto,
  description: 'Qwiet did not answer in time (UPSTREAM_TIMEOUT)',
})
@Controller('qwiet/api/v4/orgs/:orgId')
export class QwietController {
  constructor(private readonly qwiet: QwietService) {}

  @Get('roles')
  @ApiOperation({ summary: 'List the managed token roles of the org' })
  @ApiOkResponse({ type: QwietRolesAnswerDto })
  async listRoles(
    @CurrentCaller() caller: Caller,
    @Param() p: OrgParamsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return relay(reply, await this.qwiet.listRoles(caller, p.orgId));
  }

  @Get('tokens')
  @ApiOperation({ summary: 'List the tokens of the org (never their values)' })
  @ApiOkResponse({ type: QwietTokensAnswerDto })
  async listTokens(
    @CurrentCaller() caller: Caller,
    @Param() p: OrgParamsDto,
    @Query() query: ListTokensQueryDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return relay(reply, await this.qwiet.listTokens(caller, p.orgId, query));
  }

  @Post('tokens')
  @ApiOperation({ summary: 'Issue a token (its value is in this answer only)' })
  @ApiOkResponse({ type: QwietCreatedAnswerDto, description: 'Qwiet answers 200 (not 201)' })
  async createToken(
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
    @Param() p: OrgParamsDto,
    @Body() body: CreateTokenRequestDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return relay(reply, await this.qwiet.issueToken(caller, meta, p.orgId, body));
  }

  @Delete('tokens/:tokenId')
  @ApiOperation({ summary: 'Revoke (delete) a token' })
  @ApiOkResponse({ type: QwietOkDto })
  async deleteToken(
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
    @Param() p: TokenParamsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    return relay(reply, await this.qwiet.revokeToken(caller, meta, p.orgId, p.tokenId));
  }
}
