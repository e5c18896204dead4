import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, Max, Min, ValidateIf } from 'class-validator';

/**
 * An optional field: absent is fine, but a field that is present must have its type. (class-validator's
 * `@IsOptional()` also lets `null` through, which skipped every rule that checks for presence.)
 */
export const Optional = (): PropertyDecorator =>
  ValidateIf((_object: unknown, value: unknown) => value !== undefined);

/** A page size of a list route: an optional integer from 1 to `max` (documented with its default). */
export const PageLimit = (max: number, byDefault: number): PropertyDecorator =>
  applyDecorators(
    ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: max, default: byDefault }),
    Optional(),
    Type(() => Number),
    IsInt(),
    Min(1),
    Max(max),
  );
