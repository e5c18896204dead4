import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { KeygateErrorFieldsDto } from '../../policy/dto/policy-finding.response.dto';

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

export class OctaneErrorDto extends KeygateErrorFieldsDto {
  @ApiProperty({
    example: 'VALIDATION_FAILED',
    description:
      "Octane's error_code (e.g. platform.duplicate_entity_error), or Keygate's stable code: " +
      'VALIDATION_FAILED, UNAUTHENTICATED, FORBIDDEN, POLICY_VIOLATION, PROTECTED_CREDENTIAL, ' +
      'NOT_FOUND, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, RATE_LIMITED, ' +
      'QUOTA_EXCEEDED, AUDIT_UNAVAILABLE, VENDOR_CIRCUIT_OPEN, UPSTREAM_UNREACHABLE, ' +
      'UPSTREAM_BAD_RESPONSE, UPSTREAM_CREDENTIALS_REJECTED, UPSTREAM_TIMEOUT',
  })
  error_code!: string;
  @ApiProperty({
    description:
      "Octane's correlation id, or for Keygate's own errors its request id (= X-Request-Id)",
  })
  correlation_id!: string;
  @ApiProperty() description!: string;
  @ApiProperty() description_translated!: string;
  @ApiProperty({
    nullable: true,
    type: 'object',
    additionalProperties: { type: 'string' },
    description:
      "Keygate's errors: each bad field, or each violated rule id, and its problem; Octane's: its own",
  })
  properties!: Record<string, string> | null;
}

/** One failed item of a create, in Octane's bulk envelope. */
export class OctaneBulkErrorItemDto {
  @ApiProperty({ description: 'Index of the item in `data`' }) index!: number;
  @ApiProperty({ example: 'platform.duplicate_entity_error' }) error_code!: string;
  @ApiPropertyOptional() correlation_id?: string;
  @ApiProperty() description!: string;
  @ApiPropertyOptional() description_translated?: string;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true })
  properties?: Record<string, unknown> | null;
}

/** Octane's answer to a create that failed (400, or 409 for a name already taken): the bulk envelope. */
export class OctaneBulkErrorDto extends OctaneListDto {
  @ApiProperty({ type: [OctaneBulkErrorItemDto] }) errors!: OctaneBulkErrorItemDto[];
}
