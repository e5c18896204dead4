import { randomBytes, randomInt, randomUUID } from 'node:crypto';

const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Octane-style random id: 25 characters of [0-9a-z] (correlation ids, client_id suffixes). */
export function octaneRandomId(length = 25): string {
  let out = '';
  for (let i = 0; i < length; i++) out += LOWER_ALNUM[randomInt(LOWER_ALNUM.length)];
  return out;
}

export const uuid = (): string => randomUUID();

const base64url = (value: Buffer | string): string => Buffer.from(value).toString('base64url');

/** A JWT-shaped opaque token value, as Qwiet issues (`eyJ...`). Not verifiable; the simulator looks values up. */
export function qwietTokenValue(claims: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify(claims));
  return `${header}.${payload}.${base64url(randomBytes(32))}`;
}

/** A random secret that meets Octane's rule (10-30 chars, 3 of 4 classes). */
export function octaneSecret(): string {
  return `Sim-${randomBytes(12).toString('base64url')}9a`;
}
