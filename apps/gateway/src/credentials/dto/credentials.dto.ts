import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsIn,
  IsISO8601,
  IsString,
  Matches,
  MaxLength,
  ValidateBy,
} from 'class-validator';
import { CREDENTIAL_STATUSES } from '@app/common';
import { Optional, PageLimit } from '../../common/optional';

export const VENDORS = ['qwiet', 'octane'] as const;
export type InventoryVendor = (typeof VENDORS)[number];

/**
 * A time the query can compare with: ISO-8601 week (`2026-W10`) and ordinal (`2026-060`) dates pass
 * IsISO8601 but JavaScript's Date cannot read them.
 */
const IsReadableTime = () =>
  ValidateBy({
    name: 'isReadableTime',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && !Number.isNaN(Date.parse(value)),
      defaultMessage: (args) =>
        `${args?.property ?? 'time'} must be a calendar date or date-time (e.g. 2026-03-01 or 2026-03-01T10:00:00Z)`,
    },
  });

/** A Qwiet org or token id (UUID) or an Octane shared space or key id: letters, digits, dashes. */
const ID = /^[A-Za-z0-9-]{1,128}$/;

/** Filters of GET /v1/credentials: every one given must match. Newest first, keyset pages. */
export class CredentialsQueryDto {
  @ApiPropertyOptional({ enum: VENDORS })
  @Optional()
  @IsIn(VENDORS)
  vendor?: InventoryVendor;

  @ApiPropertyOptional({ description: 'The Qwiet org id or the Octane shared space id' })
  @Optional()
  @Matches(ID, { message: 'scope must be an org or shared space id' })
  scope?: string;

  @ApiPropertyOptional({ description: 'Owner team (a member sees only their own team anyway)' })
  @Optional()
  @IsString()
  @MaxLength(64)
  team?: string;

  @ApiPropertyOptional({ description: 'The subject who issued it' })
  @Optional()
  @IsString()
  @MaxLength(256)
  subject?: string;

  @ApiPropertyOptional({ enum: CREDENTIAL_STATUSES })
  @Optional()
  @IsIn(CREDENTIAL_STATUSES)
  status?: string;

  @ApiPropertyOptional({ description: 'Expiring before this time (ISO-8601); none: never expires' })
  @Optional()
  @IsISO8601({ strict: true })
  @IsReadableTime()
  expires_before?: string;

  @ApiPropertyOptional({ description: 'Created at or after this time (ISO-8601)' })
  @Optional()
  @IsISO8601({ strict: true })
  @IsReadableTime()
  created_after?: string;

  @PageLimit(500, 100)
  limit?: number;

  @ApiPropertyOptional({ description: 'next_cursor of the previous page (opaque)' })
  @Optional()
  @Matches(/^[A-Za-z0-9_-]{1,1024}$/, { message: 'cursor must be a next_cursor of this API' })
  cursor?: string;
}

/** GET /v1/credentials/{vendor}/{scope}/{id} */
export class CredentialParamsDto {
  @ApiProperty({ enum: VENDORS })
  @IsIn(VENDORS)
  vendor!: InventoryVendor;

  @ApiProperty({ description: 'The Qwiet org id or the Octane shared space id' })
  @Matches(ID, { message: 'scope must be an org or shared space id' })
  scope!: string;

  @ApiProperty({ description: 'The Qwiet token id or the Octane api_access id' })
  @Matches(ID, { message: 'id must be a token or api_access id' })
  id!: string;
}

/** POST /v1/credentials/revoke: every active credential of a subject or team (offboarding). */
export class OffboardRequestDto {
  @ApiPropertyOptional({ description: 'Revoke what this subject issued (subject, team or both)' })
  @Optional()
  @IsString()
  @MaxLength(256)
  @Matches(/\S/, { message: 'subject must not be blank' })
  subject?: string;

  @ApiPropertyOptional({ description: 'Revoke what this team owns' })
  @Optional()
  @IsString()
  @MaxLength(64)
  @Matches(/\S/, { message: 'team must not be blank' })
  team?: string;

  @ApiPropertyOptional({ enum: VENDORS, description: 'Only this vendor’s credentials' })
  @Optional()
  @IsIn(VENDORS)
  vendor?: InventoryVendor;

  @ApiPropertyOptional({ description: 'List what would be revoked, change nothing' })
  @Optional()
  @IsBoolean()
  dry_run?: boolean;
}

/** POST /v1/leaks */
export class LeakRequestDto {
  @ApiProperty({
    description:
      'The leaked token value or client_secret: only fingerprinted, never stored, logged or answered',
  })
  @IsString()
  @MaxLength(8192)
  @Matches(/\S/, { message: 'secret must not be blank' })
  secret!: string;
}
