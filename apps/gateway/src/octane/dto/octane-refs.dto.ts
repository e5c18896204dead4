import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, Matches, ValidateNested } from 'class-validator';
import { Optional } from '../../common/optional';

/** An Octane id in canonical form (no leading zero: `01001` would name key 1001 by another spelling). */
export const OCTANE_ID = /^(?:0|[1-9]\d{0,17})$/;

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
