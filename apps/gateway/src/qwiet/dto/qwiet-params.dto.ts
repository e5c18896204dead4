import { ApiProperty } from '@nestjs/swagger';
import { IsUUID } from 'class-validator';

export class OrgParamsDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all')
  orgId!: string;
}

export class TokenParamsDto extends OrgParamsDto {
  @ApiProperty({ format: 'uuid' })
  @IsUUID('all')
  tokenId!: string;
}
