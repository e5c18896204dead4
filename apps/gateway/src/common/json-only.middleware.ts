import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode } from '@app/common';
import { envelopeFor, errorBody } from './envelopes';
import { requestIdFor } from './request-id';

const hasBody = (req: IncomingMessage) =>
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') ||
  req.headers['transfer-encoding'] !== undefined;

/**
 * A body that is not JSON is refused with 415 before anything reads it: the vendors take JSON only,
 * and a form or text body would otherwise reach validation as an empty object.
 */
export function requireJsonBodies(
  req: IncomingMessage & { id?: string },
  res: ServerResponse,
  next: () => void,
): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (!hasBody(req) || type === 'application/json' || /^application\/[\w.+-]+\+json$/.test(type))
    return next();
  const requestId = req.id ?? requestIdFor(req, res);
  const body = errorBody(envelopeFor((req.url ?? '/').split('?')[0]), {
    code: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    message: `request bodies must be application/json (got ${type || 'no content type'})`,
    details: {},
    requestId,
  });
  res.statusCode = 415;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

const PROTOTYPE_KEY = /"(__proto__|constructor|prototype)"\s*:/;

/**
 * body-parser's verify hook: a body with a `__proto__`, `constructor` or `prototype` key is
 * refused (400) before it is parsed, whatever the route would do with it.
 */
export function refusePrototypeKeys(
  _req: IncomingMessage,
  _res: ServerResponse,
  raw: Buffer,
): void {
  const key = PROTOTYPE_KEY.exec(raw.toString('utf8'))?.[1];
  if (key)
    throw Object.assign(new Error(`the key "${key}" is not allowed in a request body`), {
      status: 400,
      expose: true,
    });
}
