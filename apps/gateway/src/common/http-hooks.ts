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

// The console and its sign-in pages: no inline script, no framing, no plugins, no <base>.
const CONSOLE_HEADERS = {
  ...API_HEADERS,
  'content-security-policy':
    "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
const isConsolePath = (url: string) =>
  url === '/console' || /^\/(?:console|auth)(?:[/?]|$)/.test(url);
/**
 * The console's and the sign-in's answers, by the URL as sent or by the route it reached: the
 * router decodes the path (`/%63onsole/` reaches the console's route), so the raw URL alone would
 * leave such an answer with the API's headers.
 */
export const isConsoleRequest = (req: FastifyRequest): boolean =>
  isConsolePath(req.url) || isConsolePath(req.routeOptions?.url ?? '');

/** application/json and application/*+json, with or without parameters (`; charset="utf-8"`). */
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json(?:;|$)/;
/** Keys refused anywhere in a body, however they are spelled in the JSON text (`"\u005f_proto__"`). */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** Deeper bodies are refused before validation (no request of either vendor nests past 5). */
export const MAX_BODY_DEPTH = 32;

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
 * JSON bodies only. The parsed value is then walked once, without recursion: a `__proto__`,
 * `constructor` or `prototype` key at any depth is refused (400 naming it: checked on the parsed
 * keys, so a JSON escape such as `"\u005f_proto__"` cannot slip past), and so is a body nested
 * deeper than MAX_BODY_DEPTH (validation and the vendor call would otherwise recurse into it).
 */
function parseJsonBody(text: string): unknown {
  if (text === '') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new GatewayError(400, ErrorCode.VALIDATION_FAILED, 'request body is not valid JSON');
  }
  checkBodyShape(body);
  return body;
}

function checkBodyShape(body: unknown): void {
  const pending: [unknown, number][] = [[body, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, depth] = next;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_BODY_DEPTH) {
      throw new GatewayError(
        400,
        ErrorCode.VALIDATION_FAILED,
        `request body is nested deeper than ${MAX_BODY_DEPTH} levels`,
      );
    }
    if (Array.isArray(value)) {
      for (const item of value) pending.push([item, depth + 1]);
      continue;
    }
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key)) {
        throw new GatewayError(
          400,
          ErrorCode.VALIDATION_FAILED,
          `the key "${key}" is not allowed in a request body`,
        );
      }
      pending.push([(value as Record<string, unknown>)[key], depth + 1]);
    }
  }
}

/**
 * What every request passes before routing: security headers (helmet), the request id on the
 * answer, JSON-only bodies of at most `bodyLimit`.
 */
export function installHttpHooks(fastify: FastifyInstance, bodyLimit: number): void {
  fastify.addHook('onRequest', (req: FastifyRequest, reply: FastifyReply, done) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    reply.headers(
      req.url.startsWith('/docs')
        ? DOCS_HEADERS
        : isConsoleRequest(req)
          ? CONSOLE_HEADERS
          : API_HEADERS,
    );
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
  // A request with no body may still name another type (axios, and so Octane's SDK, sends a form
  // type on a bodiless POST such as sign_out): the hook above refused every non-JSON body.
  fastify.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
}
