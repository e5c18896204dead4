import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, CurrentCaller } from '@app/auth';
import { ExplainRequestDto } from './dto/explain.request.dto';
import { PolicyExplainService } from './policy-explain.service';
import { PolicyStore } from './policy.store';

@ApiTags('Policy')
@ApiBearerAuth()
@Controller('v1/policy')
export class PolicyController {
  constructor(
    private readonly store: PolicyStore,
    private readonly explainer: PolicyExplainService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'The policy in force: document, revision, load time, last rejected reload',
  })
  @ApiOkResponse({ description: '{ revision, loaded_at, file, document, last_rejected? }' })
  current() {
    const status = this.store.status();
    return {
      revision: status.revision,
      loaded_at: status.loadedAt,
      file: status.file,
      document: this.store.policy.document,
      ...(status.lastRejected && { last_rejected: status.lastRejected }),
    };
  }

  @Post('explain')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The decision a request would get (dry run: nothing is sent to a vendor)',
  })
  @ApiOkResponse({
    description: '{ allowed, violations[], warnings[], effective, evaluated[], revision }',
  })
  explain(@CurrentCaller() caller: Caller, @Body() dto: ExplainRequestDto) {
    return this.explainer.explain(caller, dto);
  }
}
