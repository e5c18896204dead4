import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { Optional } from '../../common/optional';

/** GET /v1/drift: the last passes, newest first; `before_seq` pages back. */
export class DriftQueryDto {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 50, default: 10 })
  @Optional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(50)
  limit?: number;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'Page back: only passes recorded at a lower seq (from next_before_seq)',
  })
  @Optional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  before_seq?: number;
}
