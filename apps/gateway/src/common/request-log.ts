import type { FastifyInstance } from 'fastify';
import pino, { DestinationStream, Logger } from 'pino';

/** Headers and fields that must never reach a log line. */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];

/** The gateway's one pino logger: Nest's logger (through nestjs-pino) and the request lines. */
export function createGatewayLogger(level: string, stream?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return stream ? pino(options, stream) : pino(options);
}

/**
 * One line per answer (health checks aside): request id, method, URL, caller address, status and
 * milliseconds; never a header or a body. Written from Fastify's onResponse hook: pino-http's
 * per-request middleware and child logger took about a seventh of a request's CPU time here.
 */
export function logAnswers(fastify: FastifyInstance, logger: Logger): void {
  fastify.addHook('onResponse', (req, reply, done) => {
    if (!req.url.startsWith('/health')) {
      logger.info(
        {
          // The sign-in's callback carries the provider's code and state: its query is left out
          // (by the route too: the router decodes `/%61uth/callback`).
          req: {
            id: req.id,
            method: req.method,
            url:
              req.url.startsWith('/auth/') || req.routeOptions?.url?.startsWith('/auth/')
                ? req.url.split('?')[0]
                : req.url,
            remoteAddress: req.ip,
          },
          res: { statusCode: reply.statusCode },
          responseTime: Math.round(reply.elapsedTime * 10) / 10,
        },
        'request completed',
      );
    }
    done();
  });
}
