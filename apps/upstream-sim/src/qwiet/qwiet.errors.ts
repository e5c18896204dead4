import type { SimResponse } from '../http/router';

/** Qwiet's error envelope (`components.schemas.Error` of the v4 OpenAPI). */
export function qwietError(
  status: number,
  code: string,
  message: string,
  validationErrors?: string[],
): SimResponse {
  const body: Record<string, unknown> = { ok: false, code, message };
  if (validationErrors && validationErrors.length > 0) body.validation_errors = validationErrors;
  return { status, body };
}

const CODES: Record<number, [string, string]> = {
  400: ['BAD_REQUEST', 'Bad Request'],
  401: ['UNAUTHENTICATED', 'Unauthenticated'],
  403: ['FORBIDDEN', 'Forbidden'],
  404: ['NOT_FOUND', 'Not Found'],
  405: ['METHOD_NOT_ALLOWED', 'Method Not Allowed'],
  429: ['TOO_MANY_REQUESTS', 'Too Many Requests'],
  502: ['BAD_GATEWAY', 'Bad Gateway'],
  503: ['SERVICE_UNAVAILABLE', 'Service Unavailable'],
  504: ['GATEWAY_TIMEOUT', 'Gateway Timeout'],
};

export function qwietErrorForStatus(status: number, message?: string): SimResponse {
  const [code, text] = CODES[status] ?? ['INTERNAL_SERVER_ERROR', 'Internal Server Error'];
  return qwietError(status, code, message ?? text);
}
