import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** Documentation of Octane's answers, which Keygate passes through unchanged. */
export class OctaneEntityDto {
  @ApiProperty({ example: 'api_access' }) type!: string;
  @ApiProperty({ example: '1003' }) id!: string;
  @ApiPropertyOptional({ example: 'myKey03_l2j4391xlw0k2ipwx5ejmdor8' }) client_id?: string;
  @ApiPropertyOptional() is_valid?: boolean;
}

export class OctaneListDto {
  @ApiProperty() total_count!: number;
  @ApiProperty({ type: [OctaneEntityDto] }) data!: OctaneEntityDto[];
  @ApiProperty() exceeds_total_count!: boolean;
}

export class OctaneErrorDto {
  @ApiProperty({
    example: 'VALIDATION_FAILED',
    description:
      "Octane's error_code, or Keygate's (VALIDATION_FAILED, UNAUTHENTICATED, POLICY_VIOLATION, UPSTREAM_*)",
  })
  error_code!: string;
  @ApiProperty({ description: "Octane's correlation id, or Keygate's request id" })
  correlation_id!: string;
  @ApiProperty() description!: string;
  @ApiProperty() description_translated!: string;
  @ApiProperty({
    nullable: true,
    type: 'object',
    additionalProperties: { type: 'string' },
    description: 'For Keygate errors: each bad field and its problem',
  })
  properties!: Record<string, string> | null;
}
