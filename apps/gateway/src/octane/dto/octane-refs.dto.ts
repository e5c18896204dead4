import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, Matches, ValidateNested } from 'class-validator';
import { Optional } from '../../common/optional';

import { OCTANE_ID } from '@app/common';

/** An Octane id in canonical form (@app/common). */
export { OCTANE_ID };

class WorkspaceRoleRefDto {
  @ApiPropertyOptional({ enum: ['workspace_role'] })
  @Optional()
  @IsIn(['workspace_role'])
  type?: string;

  @ApiProperty({ example: '1028' })
  @Matches(OCTANE_ID, { message: 'id must be a numeric Octane id' })
  id!: string;
}

class RoleRefDto {
  @ApiPropertyOptional({ enum: ['role'] })
  @Optional()
  @IsIn(['role'])
  type?: string;

  @ApiProperty({ example: '1007' })
  @Matches(OCTANE_ID, { message: 'id must be a numeric Octane id' })
  id!: string;
}

export class WorkspaceRoleRefsDto {
  @ApiProperty({ type: [WorkspaceRoleRefDto] })
  @IsArray()
  @ArrayMaxSize(200)
  @ValidateNested({ each: true })
  @Type(() => WorkspaceRoleRefDto)
  data!: WorkspaceRoleRefDto[];
}

export class RoleRefsDto {
  @ApiProperty({ type: [RoleRefDto] })
  @IsArray()
  @ArrayMaxSize(200)
  @ValidateNested({ each: true })
  @Type(() => RoleRefDto)
  data!: RoleRefDto[];
}
