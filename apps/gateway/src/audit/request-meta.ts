import { randomUUID } from 'node:crypto';
import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuditEntry } from '@app/audit';
import type { Caller } from '@app/auth';

/** Who sent the request, as the audit log records it. */
export interface RequestMeta {
  /** Keygate's own id for this request: unique, whatever the caller sends. */
  requestId: string;
  /** The caller's X-Request-Id (or the one Keygate answered with), for tracing only. */
  callerRequestId?: string;
  ip?: string;
  userAgent?: string;
  /** X-Keygate-Team: the team an admin issues for where several teams use the org or space. */
  forTeam?: string;
  /** The Idempotency-Key header as sent (checked by the issuance pipeline; array: repeated). */
  idempotencyKey?: string | string[];
}

export const FOR_TEAM_HEADER = 'x-keygate-team';
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** The audit's view of a request; a fresh Keygate id each time it is called for a request. */
export function requestMetaOf(req: FastifyRequest): RequestMeta {
  const ua = req.headers['user-agent'];
  const forTeam = req.headers[FOR_TEAM_HEADER];
  const idempotencyKey = req.headers[IDEMPOTENCY_KEY_HEADER];
  return {
    requestId: randomUUID(),
    callerRequestId: req.id,
    ip: req.ip,
    userAgent: typeof ua === 'string' ? ua.slice(0, 256) : undefined,
    ...(typeof forTeam === 'string' && { forTeam: forTeam.slice(0, 64) }),
    ...(idempotencyKey !== undefined && { idempotencyKey }),
  };
}

export const CurrentRequest = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RequestMeta =>
    requestMetaOf(context.switchToHttp().getRequest<FastifyRequest>()),
);

/** A request and who made it, as every ledger entry of that request records them. */
export function requestEntry(
  caller: Caller,
  meta: RequestMeta,
): Pick<AuditEntry, 'request_id' | 'caller_request_id' | 'actor'> {
  return {
    request_id: meta.requestId,
    ...(meta.callerRequestId !== undefined && { caller_request_id: meta.callerRequestId }),
    actor: {
      subject: caller.subject,
      team: caller.team,
      ip: meta.ip,
      user_agent: meta.userAgent,
      ...(caller.via && { via: caller.via }),
    },
  };
}
