import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsString, Matches, Min } from 'class-validator';
import { NOTIFICATION_EVENTS } from '@app/common';
import { Optional, PageLimit } from '../../common/optional';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

/** Filters of GET /v1/notifications: every one given must match. Newest first, `before_id` pages back. */
export class NotificationsQueryDto {
  @ApiPropertyOptional({
    enum: DELIVERY_STATUSES,
    description:
      'pending (not yet delivered, retried with backoff), delivered, or failed (given up)',
  })
  @Optional()
  @IsIn(DELIVERY_STATUSES)
  status?: (typeof DELIVERY_STATUSES)[number];

  @ApiPropertyOptional({ enum: NOTIFICATION_EVENTS })
  @Optional()
  @IsIn(NOTIFICATION_EVENTS)
  event?: string;

  @ApiPropertyOptional({ description: 'The webhook target, by its name in the policy' })
  @Optional()
  @IsString()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, { message: 'target must be a webhook name' })
  target?: string;

  @PageLimit(500, 100)
  limit?: number;

  @ApiPropertyOptional({
    type: 'integer',
    description: 'Page back: only deliveries with a lower id (from next_before_id)',
  })
  @Optional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  before_id?: number;
}
