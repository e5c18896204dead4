import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsBoolean,
  IsNotEmpty,
  IsString,
  MaxLength,
  ValidateBy,
  ValidateIf,
} from 'class-validator';

/** Revoke (`{"is_valid": false}`) or regenerate (`{"is_valid": true, "client_secret": "..."}`). */
export class UpdateApiAccessRequestDto {
  @ApiProperty({
    description: 'false revokes the key; true with a new client_secret regenerates it',
  })
  @IsBoolean()
  is_valid!: boolean;

  @ApiPropertyOptional({
    description: 'The new secret (regenerate only; never logged or stored by Keygate)',
  })
  @ValidateIf(
    (o: UpdateApiAccessRequestDto) => o.is_valid === true || o.client_secret !== undefined,
  )
  @ValidateBy({
    name: 'onlyWhenRegenerating',
    validator: {
      validate: (_value, args) => (args?.object as UpdateApiAccessRequestDto).is_valid !== false,
      defaultMessage: () => 'client_secret must not be sent when revoking (is_valid false)',
    },
  })
  @IsString()
  @IsNotEmpty({ message: 'client_secret is required to regenerate a key' })
  @MaxLength(256)
  client_secret?: string;
}
