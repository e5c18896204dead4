import { ValidationError, ValidationPipe } from '@nestjs/common';
import { ErrorCode, GatewayError } from '@app/common';

/** Flattens class-validator errors to `path -> problem` (`data[0].name`, `valid_for_seconds`). */
export function fieldProblems(errors: ValidationError[], parent = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const error of errors) {
    const path = /^\d+$/.test(error.property)
      ? `${parent}[${error.property}]`
      : parent
        ? `${parent}.${error.property}`
        : error.property;
    const messages = Object.values(error.constraints ?? {});
    if (messages.length > 0) out[path || 'body'] = messages.join('; ');
    Object.assign(out, fieldProblems(error.children ?? [], path));
  }
  return out;
}

/** One pipe for production and tests: whitelist, refuse unknown properties, report every bad field. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    stopAtFirstError: false,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const details = fieldProblems(errors);
      return new GatewayError(
        400,
        ErrorCode.VALIDATION_FAILED,
        `invalid request: ${Object.keys(details).join(', ')}`,
        details,
      );
    },
  });
}
