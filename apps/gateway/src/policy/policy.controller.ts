import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Caller, CurrentCaller } from '@app/auth';
import type { TeamPolicy } from '@app/policy';
import { ExplainRequestDto } from './dto/explain.request.dto';
import { seesWholePolicy } from './policy-access';
import { PolicyExplainService } from './policy-explain.service';
import { PolicyStore } from './policy.store';

const effective = (team: TeamPolicy) => ({
  qwiet_orgs: team.qwietOrgs,
  octane_shared_spaces: team.octaneSharedSpaces,
  rules: team.rules,
});

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
    summary:
      'The policy in force: your team’s effective rules; every team’s for security and admins',
    description:
      'Every caller: revision, load time, and its own team (orgs, shared spaces, effective rules: ' +
      'the global rules merged with the team’s tightenings) with the global rules that apply to it. ' +
      'keygate:security and keygate:admin: also the file’s base name, the whole document, the ' +
      'effective rules of every team (`other_teams`: a team the file does not name) and the last ' +
      'rejected reload.',
  })
  @ApiOkResponse({
    description:
      'member: { revision, loaded_at, team, qwiet_orgs, octane_shared_spaces, rules, global_rules }; ' +
      'security/admin: the same plus { file, document, teams, other_teams, last_rejected? }',
  })
  current(@CurrentCaller() caller: Caller) {
    const status = this.store.status();
    const policy = this.store.policy;
    const own = {
      revision: status.revision,
      loaded_at: status.loadedAt,
      team: caller.team,
      ...effective(policy.teams.get(caller.team) ?? policy.fallback),
      global_rules: policy.document.rules ?? {},
    };
    if (!seesWholePolicy(caller)) return own;
    return {
      ...own,
      file: status.file,
      document: policy.document,
      teams: Object.fromEntries([...policy.teams].map(([name, team]) => [name, effective(team)])),
      other_teams: effective(policy.fallback),
      ...(status.lastRejected && { last_rejected: status.lastRejected }),
    };
  }

  @Post('explain')
  @HttpCode(200)
  @ApiOperation({
    summary: 'The decision a request would get (dry run: nothing is sent to a vendor)',
    description:
      'For the caller’s own team; for another `team` only keygate:security or keygate:admin ' +
      '(as for GET /v1/policy: a member sees no other team’s rules).',
  })
  @ApiOkResponse({
    description: '{ allowed, violations[], warnings[], effective, evaluated[], revision }',
  })
  explain(@CurrentCaller() caller: Caller, @Body() dto: ExplainRequestDto) {
    return this.explainer.explain(caller, dto);
  }
}
