import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

const VALUE = [
  { type: 'number' },
  { type: 'string' },
  { type: 'boolean' },
  { type: 'array', items: { type: 'string' } },
];

/** One rule a request broke (or, as a warning, would have broken). */
export class PolicyFindingDto {
  @ApiProperty({ example: 'qwiet.max_lifetime', description: 'Stable rule id' }) rule!: string;
  @ApiProperty({ example: 'valid_for_seconds exceeds the cap of 3600' }) message!: string;
  @ApiPropertyOptional({
    description: 'The limit the rule sets',
    oneOf: VALUE,
    example: 3600,
  })
  limit?: unknown;
  @ApiPropertyOptional({ description: 'The value sent', oneOf: VALUE, example: 7200 })
  actual?: unknown;
}
