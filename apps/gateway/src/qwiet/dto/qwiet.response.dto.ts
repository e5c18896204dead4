import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { KeygateErrorFieldsDto } from '../../policy/dto/policy-finding.response.dto';

/** Documentation of Qwiet's answers, which Keygate passes through unchanged. */
export class QwietRoleDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() label!: string;
  @ApiProperty() description!: string;
  @ApiPropertyOptional({ enum: ['managed', 'org'] }) role_type?: string;
}

export class QwietTokenDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() label!: string;
  @ApiPropertyOptional() description?: string;
  @ApiProperty({ format: 'uuid' }) role_id!: string;
  @ApiPropertyOptional({ enum: ['access', 'integration'] }) token_type?: string;
  @ApiPropertyOptional({ type: 'integer' }) valid_for_seconds?: number;
  @ApiPropertyOptional({ description: 'Expiry (RFC 3339)' }) expires_at?: string;
}

export class QwietCreatedTokenDto extends QwietTokenDto {
  @ApiProperty({ description: 'The token value: shown once, in this answer only' }) value!: string;
}

export class QwietRolesAnswerDto {
  @ApiProperty({ example: true }) ok!: boolean;
  @ApiProperty({ type: [QwietRoleDto] }) response!: QwietRoleDto[];
}

export class QwietTokensAnswerDto {
  @ApiProperty({ example: true }) ok!: boolean;
  @ApiProperty({ type: [QwietTokenDto] }) response!: QwietTokenDto[];
}

export class QwietCreatedAnswerDto {
  @ApiProperty({ example: true }) ok!: boolean;
  @ApiProperty({ type: QwietCreatedTokenDto }) response!: QwietCreatedTokenDto;
}

export class QwietOkDto {
  @ApiProperty({ example: true }) ok!: boolean;
}

export class QwietErrorDto extends KeygateErrorFieldsDto {
  @ApiProperty({ example: false }) ok!: boolean;
  @ApiProperty({
    example: 'VALIDATION_FAILED',
    description:
      "Qwiet's code, or Keygate's stable code: VALIDATION_FAILED, UNAUTHENTICATED, FORBIDDEN, " +
      'POLICY_VIOLATION, PROTECTED_CREDENTIAL, NOT_FOUND, METHOD_NOT_ALLOWED, PAYLOAD_TOO_LARGE, ' +
      'UNSUPPORTED_MEDIA_TYPE, RATE_LIMITED, QUOTA_EXCEEDED, AUDIT_UNAVAILABLE, VENDOR_CIRCUIT_OPEN, ' +
      'UPSTREAM_UNREACHABLE, UPSTREAM_BAD_RESPONSE, UPSTREAM_CREDENTIALS_REJECTED, UPSTREAM_TIMEOUT',
  })
  code!: string;
  @ApiProperty() message!: string;
  @ApiPropertyOptional({
    type: [String],
    description: 'Each bad field, or each violated rule, as "name: problem"',
    example: ['valid_for_seconds: valid_for_seconds must be an integer number'],
  })
  validation_errors?: string[];
}
