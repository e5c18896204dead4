import type { NewTokenInput, TokenType } from './qwiet.store';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The simulator's ceiling for `valid_for_seconds` (Qwiet publishes none): ten years. */
export const MAX_VALID_FOR_SECONDS = 10 * 365 * 24 * 3600;
const TOKEN_TYPES: readonly TokenType[] = ['access', 'integration'];

export const isUuid = (value: string): boolean => UUID.test(value);
export const isTokenType = (value: unknown): value is TokenType =>
  TOKEN_TYPES.includes(value as TokenType);

/** Validates a `NewToken` body; unknown properties are ignored, as Qwiet's API does. */
export function validateNewToken(body: unknown): { input?: NewTokenInput; errors: string[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { errors: ['request body must be a JSON object'] };
  }
  const raw = body as Record<string, unknown>;
  const errors: string[] = [];
  if (typeof raw.label !== 'string' || raw.label.trim() === '') {
    errors.push('label is required and must be a non-empty string');
  }
  if (raw.description !== undefined && typeof raw.description !== 'string') {
    errors.push('description must be a string');
  }
  if (typeof raw.role_id !== 'string' || !isUuid(raw.role_id)) {
    errors.push('role_id is required and must be a UUID');
  }
  if (raw.token_type !== undefined && !isTokenType(raw.token_type)) {
    errors.push('token_type must be one of access, integration');
  }
  const seconds = raw.valid_for_seconds;
  if (
    seconds !== undefined &&
    (!Number.isSafeInteger(seconds) ||
      (seconds as number) <= 0 ||
      (seconds as number) > MAX_VALID_FOR_SECONDS)
  ) {
    errors.push(`valid_for_seconds must be an integer between 1 and ${MAX_VALID_FOR_SECONDS}`);
  }
  if (errors.length > 0) return { errors };
  return {
    errors,
    input: {
      label: raw.label as string,
      description: raw.description as string | undefined,
      role_id: (raw.role_id as string).toLowerCase(),
      token_type: (raw.token_type as TokenType | undefined) ?? 'integration',
      valid_for_seconds: seconds as number | undefined,
    },
  };
}
