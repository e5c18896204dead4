import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsNotEmpty, IsString, IsUUID, Max, MaxLength, Min } from 'class-validator';
import { Optional } from '../../common/optional';

export const TOKEN_TYPES = ['access', 'integration'] as const;
export const MAX_LIFETIME_SECONDS = 2_147_483_647;

/** Qwiet's `NewToken`. */
export class CreateTokenRequestDto {
  @ApiProperty({ example: 'On-prem Jira', maxLength: 200 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  label!: string;

  @ApiPropertyOptional({
    example: 'Used by the on-prem Jira integration',
    maxLength: 1900,
    description:
      'Keygate appends its marker `[keygate:<request id>]`, by which a token whose answer was lost is found',
  })
  @Optional()
  @IsString()
  @MaxLength(1900)
  description?: string;

  @ApiProperty({ format: 'uuid', example: '66ad5168-41be-4b6c-9ac5-a30b02229c35' })
  @IsUUID('all')
  role_id!: string;

  @ApiPropertyOptional({ enum: TOKEN_TYPES })
  @Optional()
  @IsIn(TOKEN_TYPES)
  token_type?: (typeof TOKEN_TYPES)[number];

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    example: 3600,
    description: 'Lifetime in seconds',
  })
  @Optional()
  @IsInt()
  @Min(1)
  @Max(MAX_LIFETIME_SECONDS)
  valid_for_seconds?: number;
}
