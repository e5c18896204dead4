import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  ThrottlerLimitDetail,
  ThrottlerModuleOptions,
  ThrottlerStorage,
} from '@nestjs/throttler';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import type { FastifyRequest } from 'fastify';
import { AuditService } from '../audit/audit.service';
import { auditedEventOf } from './audited-event';
import { requestEntry, requestMetaOf } from '../audit/request-meta';

type CallerRequest = FastifyRequest & { caller?: Caller };

/**
 * One request budget per authenticated caller (subject), across every route: 429 RATE_LIMITED
 * with Retry-After in the vendor's envelope. The first refused issuance or revocation of a caller
 * in each window is audited, the rest only counted (keygate_http_requests_total, status 429): a
 * caller over the budget must not be able to fill the durable log, one fdatasync per request.
 */
@Injectable()
export class CallerThrottlerGuard extends ThrottlerGuard {
  /** Subject -> end of the window in which its refusal was already audited. */
  private readonly audited = new Map<string, number>();

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly audit: AuditService,
  ) {
    super(options, storage, reflector);
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const r = req as unknown as CallerRequest;
    return r.caller ? `subject:${r.caller.subject}` : `ip:${r.ip ?? 'unknown'}`;
  }

  protected override generateKey(
    _context: ExecutionContext,
    tracker: string,
    name: string,
  ): string {
    return `${name}:${tracker}`;
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const req = context.switchToHttp().getRequest<CallerRequest>();
    const retryAfter = Math.max(1, Math.ceil(detail.timeToBlockExpire));
    const audited = auditedEventOf(req);
    if (audited && req.caller && this.firstRefusalInWindow(req.caller.subject, retryAfter)) {
      const meta = requestMetaOf(req);
      await this.audit.write([
        {
          ...requestEntry(req.caller, meta),
          event: audited.event,
          phase: 'denied',
          target: audited.target,
          decision: {
            allowed: false,
            violations: ['rate_limit.caller'],
            warnings: [],
            policy_revision: '',
          },
        },
      ]);
    }
    throw new GatewayError(
      429,
      ErrorCode.RATE_LIMITED,
      `rate limit: at most ${detail.limit} requests per ${Math.round(detail.ttl / 1000)} s for each caller; retry after ${retryAfter} s`,
      {},
      { retry_after_seconds: retryAfter },
    );
  }

  private firstRefusalInWindow(subject: string, retryAfterSeconds: number): boolean {
    const now = Date.now();
    if ((this.audited.get(subject) ?? 0) > now) return false;
    if (this.audited.size >= 10_000) {
      for (const [key, until] of this.audited) if (until <= now) this.audited.delete(key);
    }
    this.audited.set(subject, now + retryAfterSeconds * 1000);
    return true;
  }
}
