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

/** The fields Keygate adds to either vendor's error envelope (the same in both). */
export class KeygateErrorFieldsDto {
  @ApiPropertyOptional({
    type: [PolicyFindingDto],
    description: 'POLICY_VIOLATION and QUOTA_EXCEEDED: each rule broken',
  })
  violations?: PolicyFindingDto[];
  @ApiPropertyOptional({
    example: 'sha256:0c5e…',
    description: 'POLICY_VIOLATION and QUOTA_EXCEEDED: the revision of the policy that decided',
  })
  policy_revision?: string;
  @ApiPropertyOptional({
    type: 'integer',
    description:
      'RATE_LIMITED, QUOTA_EXCEEDED, VENDOR_CIRCUIT_OPEN: seconds to wait (as Retry-After)',
  })
  retry_after_seconds?: number;
}
