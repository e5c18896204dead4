import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '@app/common';
import { UpstreamError, UpstreamFailure } from '@app/upstream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { envelopeFor, errorBody } from './envelopes';

const UPSTREAM: Record<UpstreamFailure, { status: number; code: ErrorCode }> = {
  unreachable: { status: 502, code: ErrorCode.UPSTREAM_UNREACHABLE },
  bad_response: { status: 502, code: ErrorCode.UPSTREAM_BAD_RESPONSE },
  credentials_rejected: { status: 502, code: ErrorCode.UPSTREAM_CREDENTIALS_REJECTED },
  timeout: { status: 504, code: ErrorCode.UPSTREAM_TIMEOUT },
  circuit_open: { status: 503, code: ErrorCode.VENDOR_CIRCUIT_OPEN },
};

const HTTP_CODES: Record<number, ErrorCode> = {
  400: ErrorCode.VALIDATION_FAILED,
  401: ErrorCode.UNAUTHENTICATED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  405: ErrorCode.METHOD_NOT_ALLOWED,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
};

/** Turns any failure into Keygate's error in the envelope of the vendor the caller addressed. */
@Catch()
export class GatewayExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Gateway');

  catch(exception: unknown, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const error = this.toGatewayError(exception);
    if (error.status >= 500) {
      const safe = exception instanceof GatewayError || exception instanceof UpstreamError;
      this.logger.error(
        {
          request_id: req.id,
          code: error.code,
          status: error.status,
          err: safe ? { type: (exception as Error).name, message: error.message } : exception,
        },
        error.message,
      );
    }
    if (reply.sent) return;
    if (error.status === 401) reply.header('WWW-Authenticate', 'Bearer');
    const retryAfter = error.extra.retry_after_seconds;
    if (typeof retryAfter === 'number') reply.header('Retry-After', String(retryAfter));
    reply.status(error.status).send(
      errorBody(envelopeFor(req.url), {
        code: error.code,
        message: error.message,
        details: error.details,
        extra: error.extra,
        requestId: req.id,
      }),
    );
  }

  private toGatewayError(exception: unknown): GatewayError {
    if (exception instanceof GatewayError) return exception;
    if (exception instanceof UpstreamError) {
      const { status, code } = UPSTREAM[exception.failure];
      const retry = exception.retryAfterSeconds;
      return new GatewayError(
        status,
        code,
        exception.message,
        {},
        retry === undefined ? {} : { retry_after_seconds: retry },
      );
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const code = HTTP_CODES[status] ?? (status >= 500 ? ErrorCode.INTERNAL : `HTTP_${status}`);
      return new GatewayError(status, code, status >= 500 ? 'internal error' : exception.message);
    }
    // Fastify's own refusals before routing (body too large, malformed request) carry a 4xx status.
    const status = (exception as { statusCode?: unknown } | null)?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const message =
        status === 413
          ? 'request body is too large'
          : `invalid request (${(exception as Error).message})`;
      return new GatewayError(status, HTTP_CODES[status] ?? `HTTP_${status}`, message);
    }
    return new GatewayError(500, ErrorCode.INTERNAL, 'internal error');
  }
}
