import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsISO8601,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  ValidateBy,
  ValidationOptions,
} from 'class-validator';
import { AUDIT_EVENTS, AUDIT_PHASES } from '@app/common';
import { PageLimit } from '../../common/optional';

/**
 * A time the query can compare with: ISO-8601 week dates (`2026-W10`) and ordinal dates
 * (`2026-060`) pass IsISO8601 but JavaScript's Date cannot read them (a 500 before this check).
 */
const IsReadableTime = (options?: ValidationOptions) =>
  ValidateBy(
    {
      name: 'isReadableTime',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && !Number.isNaN(Date.parse(value)),
        defaultMessage: (args) =>
          `${args?.property ?? 'time'} must be a calendar date or date-time (e.g. 2026-03-01 or 2026-03-01T10:00:00Z)`,
      },
    },
    options,
  );

/** Filters of GET /v1/audit: every one given must match. Newest first, `before_seq` pages back. */
export class AuditQueryDto {
  @ApiPropertyOptional({ description: 'Records at or after this time (ISO-8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  @IsReadableTime()
  from?: string;

  @ApiPropertyOptional({ description: 'Records before this time (ISO-8601)' })
  @IsOptional()
  @IsISO8601({ strict: true })
  @IsReadableTime()
  to?: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) team?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(256) subject?: string;
  @ApiPropertyOptional({ enum: AUDIT_EVENTS }) @IsOptional() @IsIn(AUDIT_EVENTS) event?: string;
  @ApiPropertyOptional({ enum: AUDIT_PHASES }) @IsOptional() @IsIn(AUDIT_PHASES) phase?: string;
  @ApiPropertyOptional({ enum: ['qwiet', 'octane'] })
  @IsOptional()
  @IsIn(['qwiet', 'octane'])
  vendor?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(128) credential_id?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(128) request_id?: string;
  @ApiPropertyOptional({ description: 'Octane client id of the key (target.client_id)' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  client_id?: string;

  @ApiPropertyOptional({ example: 'hmac-sha256:…' })
  @IsOptional()
  @Matches(/^hmac-sha256:[0-9a-f]{64}$/, { message: 'fingerprint must be hmac-sha256:<64 hex>' })
  fingerprint?: string;

  @PageLimit(500, 100)
  limit?: number;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'Page back: only records with a lower seq (from next_before_seq)',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  before_seq?: number;
}

export class FingerprintRequestDto {
  @ApiPropertyOptional({
    description:
      'A leaked secret or token value: used only to compute its fingerprint, never stored or logged',
  })
  @IsString()
  @MaxLength(8192)
  @Matches(/\S/, { message: 'secret must not be blank' })
  secret!: string;
}
