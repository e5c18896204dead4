import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsObject, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { OCTANE_ID, POLICY_ACTIONS } from '@app/common';
import { Optional } from '../../common/optional';

/** Every action the policy decides (@app/common POLICY_ACTIONS). */
export const EXPLAIN_ACTIONS = POLICY_ACTIONS;
export type ExplainAction = (typeof EXPLAIN_ACTIONS)[number];

/** A request to decide without sending it: the same body the real route takes. */
export class ExplainRequestDto {
  @ApiProperty({ enum: EXPLAIN_ACTIONS })
  @IsIn(EXPLAIN_ACTIONS)
  action!: ExplainAction;

  @ApiPropertyOptional({
    description:
      "Decide as this team (default: the caller's). Another team needs keygate:admin or keygate:auditor.",
  })
  @Optional()
  @IsString()
  @MaxLength(64)
  team?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'Qwiet actions' })
  @Optional()
  @IsUUID('all')
  org_id?: string;

  @ApiPropertyOptional({ example: '1001', description: 'Octane actions' })
  @Optional()
  @Matches(OCTANE_ID)
  shared_space_id?: string;

  @ApiPropertyOptional({ description: 'Revocation and regeneration: the token or key id' })
  @Optional()
  @IsString()
  @MaxLength(64)
  credential_id?: string;

  @ApiPropertyOptional({
    description:
      'Revocation and regeneration: the team that issued the credential (absent: unknown)',
  })
  @Optional()
  @IsString()
  @MaxLength(64)
  owner_team?: string;

  @ApiPropertyOptional({ description: 'Regeneration: the key name (for the secret rule)' })
  @Optional()
  @IsString()
  @MaxLength(100)
  key_name?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'The body the real route would take: a Qwiet NewToken, one Octane api_access, or {"client_secret": ...} for a regeneration',
  })
  @Optional()
  @IsObject()
  body?: Record<string, unknown>;
}
