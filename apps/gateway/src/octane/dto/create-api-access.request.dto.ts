import type { OctaneKeyRequest } from '@app/policy';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsNotEmpty,
  IsString,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { RoleRefsDto, WorkspaceRoleRefsDto } from './octane-refs.dto';
import { Optional } from '../../common/optional';

export class ApiAccessInputDto {
  @ApiPropertyOptional({ enum: ['api_access'] })
  @Optional()
  @IsIn(['api_access'])
  type?: string;

  @ApiProperty({
    example: 'myKey03',
    maxLength: 100,
    description: 'Becomes the prefix of the client_id',
  })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  name!: string;

  @ApiPropertyOptional({
    example: '9011@83sd!f1042ds+f19fg86M',
    description:
      'The key secret (never logged or stored by Keygate). Omit it and Keygate generates a strong one, returned once in data[0].client_secret',
  })
  @Optional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  client_secret?: string;

  @ApiPropertyOptional({ example: '2031-08-24T00:00:00Z', description: 'ISO-8601 date-time' })
  @Optional()
  @IsISO8601({ strict: true })
  expiration?: string;

  @ApiPropertyOptional({ enum: [0, 1], description: '0 credential, 1 token' })
  @Optional()
  @IsIn([0, 1])
  authentication_type?: number;

  @ApiPropertyOptional({ type: WorkspaceRoleRefsDto })
  @Optional()
  @ValidateNested()
  @Type(() => WorkspaceRoleRefsDto)
  workspace_roles?: WorkspaceRoleRefsDto;

  @ApiPropertyOptional({
    type: RoleRefsDto,
    description: 'Roles in all current and future workspaces',
  })
  @Optional()
  @ValidateNested()
  @Type(() => RoleRefsDto)
  roles_in_all_workspaces?: RoleRefsDto;
}

/** Octane's create body; Keygate takes one key per request so each has its own decision and audit record. */
export class CreateApiAccessRequestDto {
  @ApiProperty({ type: [ApiAccessInputDto], minItems: 1, maxItems: 1 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1, {
    message: 'data must hold exactly one api_access: Keygate issues keys one at a time',
  })
  @ValidateNested({ each: true })
  @Type(() => ApiAccessInputDto)
  data!: ApiAccessInputDto[];
}

/** What the policy decides on for a key to create. */
export function policyKey(input: ApiAccessInputDto): OctaneKeyRequest {
  return {
    name: input.name,
    client_secret: input.client_secret,
    expiration: input.expiration,
    workspace_role_ids: input.workspace_roles?.data.map((r) => r.id) ?? [],
    roles_in_all_workspaces: input.roles_in_all_workspaces?.data.map((r) => r.id) ?? [],
  };
}
