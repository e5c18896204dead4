import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

export const FIELDS =
  /^[A-Za-z_][\w]*(\{[A-Za-z_][\w]*(,[A-Za-z_][\w]*)*\})?(,[A-Za-z_][\w]*(\{[A-Za-z_][\w]*(,[A-Za-z_][\w]*)*\})?)*$/;

/** Only `fields` on single-entity calls. */
export class OctaneFieldsQueryDto {
  @ApiPropertyOptional({
    example: 'client_id,name',
    description: 'Comma-separated field names, sub-fields in braces',
  })
  @IsOptional()
  @MaxLength(1000)
  @Matches(FIELDS, { message: 'fields must be comma-separated field names (sub-fields in braces)' })
  fields?: string;
}

/** Octane collection parameters, checked before they are sent on (each as its own encoded parameter). */
export class OctaneListQueryDto extends OctaneFieldsQueryDto {
  @ApiPropertyOptional({
    example: '"(role={id=1007};workspace={id=1003})"',
    description: "Octane's query language",
  })
  @IsOptional()
  @IsString()
  @MaxLength(4000)
  // eslint-disable-next-line no-control-regex
  @Matches(/^[^\u0000-\u001f\u007f]*$/, { message: 'query must not contain control characters' })
  query?: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  offset?: number;

  @ApiPropertyOptional({ example: '-id,name' })
  @IsOptional()
  @Matches(/^-?[A-Za-z_]\w*(,-?[A-Za-z_]\w*)*$/, {
    message: 'order_by must be comma-separated field names, - for descending',
  })
  @MaxLength(500)
  order_by?: string;
}
