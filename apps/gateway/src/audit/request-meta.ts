import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/** Who sent the request, as the audit log records it. */
export interface RequestMeta {
  requestId: string;
  ip?: string;
  userAgent?: string;
}

export const CurrentRequest = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RequestMeta => {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const ua = req.headers['user-agent'];
    return {
      requestId: req.id,
      ip: req.ip,
      userAgent: typeof ua === 'string' ? ua.slice(0, 256) : undefined,
    };
  },
);
