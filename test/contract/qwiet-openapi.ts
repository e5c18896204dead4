import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

/**
 * Validators for Qwiet's own schemas: the token endpoints of the v4 OpenAPI, kept in this folder
 * as Qwiet publishes them (qwiet-v4-tokens.openapi.yml).
 */
const SPEC_ID = 'qwiet-v4-tokens';
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(parse(readFileSync(join(__dirname, 'qwiet-v4-tokens.openapi.yml'), 'utf8')), SPEC_ID);

const pointer = (...parts: string[]): string =>
  parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

const cache = new Map<string, ValidateFunction>();
function validator(ref: string): ValidateFunction {
  let fn = cache.get(ref);
  if (!fn) {
    fn = ajv.compile({ $ref: `${SPEC_ID}#/${ref}` });
    cache.set(ref, fn);
  }
  return fn;
}

export type QwietOperation =
  | ['/orgs/{orgID}/roles', 'get']
  | ['/orgs/{orgID}/tokens', 'get' | 'post']
  | ['/orgs/{orgID}/tokens/{tokenID}', 'delete'];

/** Schema errors of a 200 body against the operation's documented success schema (empty = valid). */
export function successSchemaErrors([path, method]: QwietOperation, body: unknown): string[] {
  const fn = validator(
    pointer('paths', path, method, 'responses', '200', 'content', 'application/json', 'schema'),
  );
  return fn(body) ? [] : (fn.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** Schema errors of an error body against `components.schemas.Error`. */
export function errorSchemaErrors(body: unknown): string[] {
  const fn = validator(pointer('components', 'schemas', 'Error'));
  return fn(body) ? [] : (fn.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
