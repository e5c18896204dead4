import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, Min } from 'class-validator';
import { Optional, PageLimit } from '../../common/optional';

/** GET /v1/drift: the last passes, newest first; `before_seq` pages back. */
export class DriftQueryDto {
  @PageLimit(50, 10)
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
