import type { SimResponse } from '../http/router';
import { octaneRandomId } from '../ids';

export interface OctaneErrorBody {
  error_code: string;
  correlation_id: string;
  description: string;
  description_translated: string;
  properties: Record<string, string> | null;
  business_error?: boolean;
  index?: number;
}

/** One error in Octane's envelope (`error_code`, `correlation_id`, `description`, ...). */
export function octaneErrorBody(
  code: string,
  description: string,
  properties: Record<string, string> | null = null,
  businessError?: boolean,
): OctaneErrorBody {
  const body: OctaneErrorBody = {
    error_code: code,
    correlation_id: octaneRandomId(),
    description,
    description_translated: description,
    properties,
  };
  if (businessError !== undefined) body.business_error = businessError;
  return body;
}

export function octaneError(
  status: number,
  code: string,
  description: string,
  properties: Record<string, string> | null = null,
  businessError?: boolean,
): SimResponse {
  return { status, body: octaneErrorBody(code, description, properties, businessError) };
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'HTTP 400 Bad Request',
  401: 'HTTP 401 Unauthorized',
  403: 'HTTP 403 Forbidden',
  404: 'HTTP 404 Not Found',
  405: 'HTTP 405 Method Not Allowed',
  409: 'HTTP 409 Conflict',
  415: 'HTTP 415 Unsupported Media Type',
  503: 'HTTP 503 Service Unavailable',
};

export function octaneErrorForStatus(status: number, description?: string): SimResponse {
  if (description !== undefined || (status >= 500 && status !== 503)) {
    return octaneError(
      status,
      'platform.general_error',
      description ?? 'General error occurred',
      null,
      false,
    );
  }
  return octaneError(
    status,
    'platform.web_application',
    DESCRIPTIONS[status] ?? `HTTP ${status}`,
    null,
    false,
  );
}

/** What Octane answers (401) when a session cookie has idled out: the shape its SDKs test against. */
export const SESSION_EXPIRED_BODY = {
  errorCode: 'VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT',
  accumulatedMessage: 'Previous validation errors (non mandatory validators): ',
};

export function unknownField(entityType: string, field: string): SimResponse {
  return octaneError(
    400,
    'platform.unknown_field',
    `The entity type '${entityType}' does not have a field/s by name/s '${field}'`,
    { entity_type: entityType, field_name: field },
    true,
  );
}
