import {
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  UseInterceptors,
} from '@nestjs/common';
import type { Decision } from '@app/policy';
import type { VendorResponse } from '@app/upstream';
import type { FastifyReply } from 'fastify';
import { map, Observable } from 'rxjs';

/** A vendor answer and the policy decision that let the request through (none for reads). */
export interface GatewayAnswer {
  answer: VendorResponse;
  decision?: Decision;
  /** Keygate's own headers on the answer (e.g. X-Keygate-Revocation). */
  headers?: Record<string, string>;
}

export const POLICY_REVISION_HEADER = 'X-Keygate-Policy-Revision';
export const POLICY_WARNINGS_HEADER = 'X-Keygate-Policy-Warnings';

/** Header-safe text: printable ASCII only. */
const headerText = (s: string) => s.replace(/[^\x20-\x7e]/g, '?');

/**
 * The vendor routes' one way to answer: their handlers return the GatewayAnswer, and this sends
 * the vendor's status (whatever it chose: Qwiet's 200 on a create, Octane's 201, a 4xx passed
 * through) and body; the policy revision and warnings go in headers. A decided change may carry a
 * token value or a client_secret: no cache may keep it.
 */
@Injectable()
export class VendorAnswerInterceptor implements NestInterceptor<GatewayAnswer, unknown> {
  intercept(context: ExecutionContext, next: CallHandler<GatewayAnswer>): Observable<unknown> {
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    return next.handle().pipe(
      map(({ answer, decision, headers }) => {
        for (const [name, value] of Object.entries(headers ?? {})) reply.header(name, value);
        if (decision) {
          reply.header('Cache-Control', 'no-store');
          reply.header(POLICY_REVISION_HEADER, decision.revision);
          if (decision.warnings.length > 0) {
            reply.header(
              POLICY_WARNINGS_HEADER,
              decision.warnings.map((w) => headerText(`${w.rule}: ${w.message}`)).join(', '),
            );
          }
        }
        reply.status(answer.status);
        return answer.body;
      }),
    );
  }
}

/** On a controller whose handlers return a GatewayAnswer: they answer as the vendor did. */
export const AnswerAsVendor = () => UseInterceptors(VendorAnswerInterceptor);
