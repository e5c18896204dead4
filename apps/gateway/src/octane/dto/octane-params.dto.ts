import { ApiProperty } from '@nestjs/swagger';
import { Matches } from 'class-validator';
import { OCTANE_ID } from './octane-refs.dto';

export class SpaceParamsDto {
  @ApiProperty({ example: '1001' })
  @Matches(OCTANE_ID, { message: 'spaceId must be a numeric shared space id' })
  spaceId!: string;
}

export class ApiAccessParamsDto extends SpaceParamsDto {
  @ApiProperty({ example: '1003' })
  @Matches(OCTANE_ID, { message: 'id must be a numeric api_access id' })
  id!: string;
}
