import { ValidateIf } from 'class-validator';

/**
 * An optional field: absent is fine, but a field that is present must have its type. (class-validator's
 * `@IsOptional()` also lets `null` through, which skipped every rule that checks for presence.)
 */
export const Optional = (): PropertyDecorator =>
  ValidateIf((_object: unknown, value: unknown) => value !== undefined);
