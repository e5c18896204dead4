import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { TOKEN_TYPES } from './create-token.request.dto';

export class ListTokensQueryDto {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    description: 'Include expired tokens (Qwiet default: false)',
  })
  @IsOptional()
  @IsIn(['true', 'false'])
  show_expired?: 'true' | 'false';

  @ApiPropertyOptional({ enum: TOKEN_TYPES })
  @IsOptional()
  @IsIn(TOKEN_TYPES)
  token_type?: (typeof TOKEN_TYPES)[number];
}
