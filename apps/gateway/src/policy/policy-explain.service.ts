import { Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import type { Decision, PolicyRequest } from '@app/policy';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { fieldProblems } from '../common/validation';
import { ApiAccessInputDto, policyKey } from '../octane/dto/create-api-access.request.dto';
import { CreateTokenRequestDto } from '../qwiet/dto/create-token.request.dto';
import type { ExplainRequestDto } from './dto/explain.request.dto';
import { seesWholePolicy } from './policy-access';
import { PolicyEnforcer } from './policy.enforcer';

const invalid = (details: Record<string, string>) =>
  new GatewayError(
    400,
    ErrorCode.VALIDATION_FAILED,
    `invalid request: ${Object.keys(details).join(', ')}`,
    details,
  );

/** Validates a body with the same DTO the real route uses; problems are named under `body.`. */
function validBody<T extends object>(
  cls: new () => T,
  body: Record<string, unknown> | undefined,
): T {
  const instance = plainToInstance(cls, body ?? {});
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) throw invalid(fieldProblems(errors, 'body'));
  return instance;
}

/** POST /v1/policy/explain: the decision a request would get, without calling any vendor. */
@Injectable()
export class PolicyExplainService {
  constructor(private readonly enforcer: PolicyEnforcer) {}

  explain(caller: Caller, dto: ExplainRequestDto): Decision {
    const team = dto.team ?? caller.team;
    // As GET /v1/policy: only those who may see another team's rules may explain its decisions.
    if (team !== caller.team && !seesWholePolicy(caller)) {
      throw new GatewayError(
        403,
        ErrorCode.FORBIDDEN,
        'explaining for another team needs keygate:security or keygate:admin',
      );
    }
    // For another team, decide as a plain member of it (no gateway roles).
    const as = team === caller.team ? caller : { subject: caller.subject, team, roles: [] };
    return this.enforcer.decide(as, this.request(dto));
  }

  private request(dto: ExplainRequestDto): PolicyRequest {
    const need = (value: string | undefined, name: string): string => {
      if (value === undefined) throw invalid({ [name]: `${name} is required for ${dto.action}` });
      return value;
    };
    switch (dto.action) {
      case 'qwiet.read':
        return { action: dto.action, orgId: need(dto.org_id, 'org_id') };
      case 'qwiet.token.issue':
        return {
          action: dto.action,
          orgId: need(dto.org_id, 'org_id'),
          token: validBody(CreateTokenRequestDto, dto.body),
        };
      case 'qwiet.token.revoke':
        return {
          action: dto.action,
          orgId: need(dto.org_id, 'org_id'),
          tokenId: need(dto.credential_id, 'credential_id'),
          ownerTeam: dto.owner_team,
        };
      case 'octane.read':
        return { action: dto.action, sharedSpaceId: need(dto.shared_space_id, 'shared_space_id') };
      case 'octane.api_access.create':
        return {
          action: dto.action,
          sharedSpaceId: need(dto.shared_space_id, 'shared_space_id'),
          key: policyKey(validBody(ApiAccessInputDto, dto.body)),
        };
      case 'octane.api_access.regenerate':
        return {
          action: dto.action,
          sharedSpaceId: need(dto.shared_space_id, 'shared_space_id'),
          id: need(dto.credential_id, 'credential_id'),
          // The key as the caller says it is (a regeneration is judged like a create).
          key: {
            ...policyKey(
              validBody(ApiAccessInputDto, { name: dto.key_name ?? 'key', ...dto.body }),
            ),
            ...(dto.key_name === undefined && { name: '' }),
          },
          reactivates: false,
          ownerTeam: dto.owner_team,
        };
      case 'octane.api_access.revoke':
        return {
          action: dto.action,
          sharedSpaceId: need(dto.shared_space_id, 'shared_space_id'),
          id: need(dto.credential_id, 'credential_id'),
          ownerTeam: dto.owner_team,
        };
    }
  }
}
