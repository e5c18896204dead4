import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsNotEmpty, IsString, MaxLength, ValidateBy } from 'class-validator';
import { Optional } from '../../common/optional';

/** Revoke (`{"is_valid": false}`) or regenerate (`{"is_valid": true}`, optionally with the new `client_secret`). */
export class UpdateApiAccessRequestDto {
  @ApiProperty({
    description: 'false revokes the key; true regenerates it (same client_id, new secret)',
  })
  @IsBoolean()
  is_valid!: boolean;

  @ApiPropertyOptional({
    description:
      'The new secret (regenerate only; never logged or stored by Keygate). Omit it and Keygate generates one, returned once in client_secret',
  })
  @Optional()
  @ValidateBy({
    name: 'onlyWhenRegenerating',
    validator: {
      validate: (_value, args) => (args?.object as UpdateApiAccessRequestDto).is_valid !== false,
      defaultMessage: () => 'client_secret must not be sent when revoking (is_valid false)',
    },
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  client_secret?: string;
}
