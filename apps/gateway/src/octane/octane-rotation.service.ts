import { Injectable } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import type { RequestMeta } from '../audit/request-meta';
import type { GatewayAnswer } from '../common/vendor-reply';
import { text } from '../issuance/vendor-answers';
import { OctaneService } from './octane.service';

/** The fields a rotation reads back from Octane (never a secret: Octane does not show one). */
const ROTATED_FIELDS = 'name,client_id,is_valid,expiration';

/** A rotated Octane key, in Keygate's own JSON: its new secret is in this answer only. */
export class RotatedKeyDto {
  @ApiProperty({ example: 'octane' })
  vendor!: 'octane';

  @ApiProperty({ example: '1001' })
  shared_space_id!: string;

  @ApiProperty({ example: '1003' })
  id!: string;

  @ApiPropertyOptional({ example: 'ci-key_3wz8…' })
  client_id?: string;

  @ApiPropertyOptional({ example: 'ci-key' })
  name?: string;

  @ApiProperty({ example: true })
  is_valid!: boolean;

  @ApiPropertyOptional({ example: '2031-08-24T00:00:00Z', nullable: true })
  expiration?: string | null;

  @ApiProperty({
    description:
      'The new secret Keygate generated (the policy’s secret rules): shown once, never kept',
  })
  client_secret!: string;
}

/**
 * Octane rotation: a regeneration with a secret Keygate generates (never the caller's), through
 * the same path as any regeneration (one change at a time per key, decided like a regeneration,
 * audited as octane.api_access.regenerate), answered in Keygate's own JSON.
 */
@Injectable()
export class OctaneRotation {
  constructor(private readonly octane: OctaneService) {}

  async rotate(
    caller: Caller,
    meta: RequestMeta,
    spaceId: string,
    id: string,
  ): Promise<GatewayAnswer> {
    // No client_secret sent: the policy has Keygate generate one (generate_secret).
    const result = await this.octane.updateApiAccess(
      caller,
      meta,
      spaceId,
      id,
      { is_valid: true },
      ROTATED_FIELDS,
    );
    const { status, body } = result.answer;
    if (status === 404) {
      throw new GatewayError(
        404,
        ErrorCode.NOT_FOUND,
        `no api_access ${id} in shared space ${spaceId}`,
      );
    }
    const key = (body ?? {}) as Record<string, unknown>;
    if (status < 200 || status >= 300 || typeof key.client_secret !== 'string') {
      throw new GatewayError(
        502,
        ErrorCode.UPSTREAM_BAD_RESPONSE,
        `Octane answered ${status} to the regeneration: the key was not rotated`,
      );
    }
    const rotated: RotatedKeyDto = {
      vendor: 'octane',
      shared_space_id: spaceId,
      id,
      client_id: text(key.client_id),
      name: text(key.name),
      is_valid: key.is_valid === true,
      expiration: text(key.expiration) ?? null,
      client_secret: key.client_secret,
    };
    return { ...result, answer: { status: 200, body: rotated } };
  }
}
