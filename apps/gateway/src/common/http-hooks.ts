import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { HelmetOptions } from 'helmet';
import { ErrorCode, GatewayError } from '@app/common';
import { REQUEST_ID_HEADER } from './request-id';

/**
 * helmet's headers for one configuration. Without nonces they do not depend on the request, so
 * helmet runs once at start-up and each answer gets the headers it set (13 setHeader calls and a
 * middleware chain a request saved).
 */
function helmetHeaders(options?: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: unknown) => (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => delete headers[name.toLowerCase()],
  };
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return headers;
}

const API_HEADERS = helmetHeaders();
// Swagger UI needs its inline bootstrap script and styles; only /docs gets that allowance.
const DOCS_HEADERS = helmetHeaders({
  contentSecurityPolicy: {
    directives: {
      scriptSrc: ["'self'", "'unsafe-inline'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
    },
  },
});

/** application/json and application/*+json, with or without parameters (`; charset="utf-8"`). */
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json(?:;|$)/;
const PROTOTYPE_KEY = /"(__proto__|constructor|prototype)"\s*:/;

const hasBody = (req: FastifyRequest) =>
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') ||
  req.headers['transfer-encoding'] !== undefined;

/**
 * A body that is not JSON is refused with 415 before anything reads it: the vendors take JSON only,
 * and a form or text body would otherwise reach validation as an empty object.
 */
function requireJsonBody(req: FastifyRequest): void {
  if (!hasBody(req)) return;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (JSON_TYPE.test(type)) return;
  throw new GatewayError(
    415,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    `request bodies must be application/json (got ${type || 'no content type'})`,
  );
}

/**
 * JSON bodies only; a `__proto__`, `constructor` or `prototype` key is refused (400) before the
 * body is parsed, whatever the route would do with it.
 */
function parseJsonBody(text: string): unknown {
  if (text === '') return undefined;
  const key = PROTOTYPE_KEY.exec(text)?.[1];
  if (key) {
    throw new GatewayError(
      400,
      ErrorCode.VALIDATION_FAILED,
      `the key "${key}" is not allowed in a request body`,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new GatewayError(400, ErrorCode.VALIDATION_FAILED, 'request body is not valid JSON');
  }
}

/**
 * What every request passes before routing: security headers (helmet), the request id on the
 * answer, JSON-only bodies of at most `bodyLimit`.
 */
export function installHttpHooks(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    reply.headers(req.url.startsWith('/docs') ? DOCS_HEADERS : API_HEADERS);
    try {
      requireJsonBody(req);
    } catch (error) {
      return done(error as Error);
    }
    done();
  });
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser(JSON_TYPE, { parseAs: 'string', bodyLimit }, (_req, text, done) => {
    try {
      done(null, parseJsonBody(text as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
