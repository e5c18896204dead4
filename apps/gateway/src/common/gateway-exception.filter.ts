import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ErrorCode, GatewayError } from '@app/common';
import { UpstreamError, UpstreamFailure } from '@app/upstream';
import type { Request, Response } from 'express';
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
    const req = host.switchToHttp().getRequest<Request & { id?: string }>();
    const res = host.switchToHttp().getResponse<Response>();
    const error = this.toGatewayError(exception);
    if (error.status >= 500) {
      const safe = exception instanceof GatewayError || exception instanceof UpstreamError;
      this.logger.error(
        {
          code: error.code,
          status: error.status,
          err: safe ? { type: (exception as Error).name, message: error.message } : exception,
        },
        error.message,
      );
    }
    if (res.headersSent) return;
    if (error.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    const retryAfter = error.extra.retry_after_seconds;
    if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(retryAfter));
    res.status(error.status).json(
      errorBody(envelopeFor(req.path), {
        code: error.code,
        message: error.message,
        details: error.details,
        extra: error.extra,
        requestId: String(req.id ?? ''),
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
    const status = (exception as { status?: unknown; type?: unknown } | null)?.status;
    // body-parser errors (malformed JSON, too large, refused keys) carry a status and a type.
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const type = String((exception as { type?: unknown }).type ?? '');
      const BODY_ERRORS: Record<string, string> = {
        'entity.parse.failed': 'request body is not valid JSON',
        'entity.too.large': 'request body is too large',
        // our own verify hook (refusePrototypeKeys) says what it refused
        'entity.verify.failed': (exception as Error).message,
      };
      const message = BODY_ERRORS[type] ?? 'invalid request';
      return new GatewayError(status, HTTP_CODES[status] ?? `HTTP_${status}`, message);
    }
    return new GatewayError(500, ErrorCode.INTERNAL, 'internal error');
  }
}
