import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, CurrentCaller } from '@app/auth';
import { CurrentRequest, RequestMeta } from '../audit/request-meta';
import { ApiVendorAnswer, ApiVendorErrors } from '../common/api-errors.decorator';
import { methodNotAllowedController } from '../common/method-not-allowed';
import { AnswerAsVendor, GatewayAnswer } from '../common/vendor-reply';
import { CreateTokenRequestDto } from './dto/create-token.request.dto';
import { ListTokensQueryDto } from './dto/list-tokens.query.dto';
import { OrgParamsDto, TokenParamsDto } from './dto/qwiet-params.dto';
import {
  QwietCreatedAnswerDto,
  QwietOkDto,
  QwietRolesAnswerDto,
  QwietTokensAnswerDto,
} from './dto/qwiet.response.dto';
import { QwietService } from './qwiet.service';

/** Qwiet API v4 roles and tokens, drop-in: the vendor's paths after the /qwiet prefix. */
@ApiTags('Qwiet tokens')
@ApiBearerAuth()
@AnswerAsVendor()
@Controller('qwiet/api/v4/orgs/:orgId')
export class QwietController {
  constructor(private readonly qwiet: QwietService) {}

  @Get('roles')
  @ApiOperation({ summary: 'List the managed token roles of the org' })
  @ApiVendorAnswer({ status: 200, type: QwietRolesAnswerDto })
  @ApiVendorErrors('qwiet', 'read')
  listRoles(@CurrentCaller() caller: Caller, @Param() p: OrgParamsDto): Promise<GatewayAnswer> {
    return this.qwiet.listRoles(caller, p.orgId);
  }

  @Get('tokens')
  @ApiOperation({ summary: 'List the tokens of the org (never their values)' })
  @ApiVendorAnswer({ status: 200, type: QwietTokensAnswerDto })
  @ApiVendorErrors('qwiet', 'read')
  listTokens(
    @CurrentCaller() caller: Caller,
    @Param() p: OrgParamsDto,
    @Query() query: ListTokensQueryDto,
  ): Promise<GatewayAnswer> {
    return this.qwiet.listTokens(caller, p.orgId, query);
  }

  @Post('tokens')
  @ApiOperation({ summary: 'Issue a token (its value is in this answer only)' })
  @ApiVendorAnswer({
    status: 200,
    type: QwietCreatedAnswerDto,
    description: 'Issued (Qwiet answers 200, not 201); the token value is in this answer only',
    decided: true,
    secret: true,
  })
  @ApiVendorErrors('qwiet', 'issue')
  createToken(
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
    @Param() p: OrgParamsDto,
    @Body() body: CreateTokenRequestDto,
  ): Promise<GatewayAnswer> {
    return this.qwiet.issueToken(caller, meta, p.orgId, body);
  }

  @Delete('tokens/:tokenId')
  @ApiOperation({ summary: 'Revoke (delete) a token' })
  @ApiVendorAnswer({ status: 200, type: QwietOkDto, description: 'Revoked', decided: true })
  @ApiVendorErrors('qwiet', 'revoke')
  deleteToken(
    @CurrentCaller() caller: Caller,
    @CurrentRequest() meta: RequestMeta,
    @Param() p: TokenParamsDto,
  ): Promise<GatewayAnswer> {
    return this.qwiet.revokeToken(caller, meta, p.orgId, p.tokenId);
  }
}

/** 405 with `Allow` for the methods Qwiet does not serve on the paths Keygate relays. */
export const QwietMethodNotAllowed = methodNotAllowedController(
  'QwietMethodNotAllowed',
  'qwiet/api/v4/orgs/:orgId',
  {
    roles: ['GET'],
    tokens: ['GET', 'POST'],
    'tokens/:tokenId': ['DELETE'],
  },
);
