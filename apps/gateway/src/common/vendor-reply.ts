import type { Decision } from '@app/policy';
import type { VendorResponse } from '@app/upstream';
import type { FastifyReply } from 'fastify';

/** A vendor answer and the policy decision that let the request through (none for reads). */
export interface GatewayAnswer {
  answer: VendorResponse;
  decision?: Decision;
}

export const POLICY_REVISION_HEADER = 'X-Keygate-Policy-Revision';
export const POLICY_WARNINGS_HEADER = 'X-Keygate-Policy-Warnings';

/** Header-safe text: printable ASCII only. */
const headerText = (s: string) => s.replace(/[^\x20-\x7e]/g, '?');

/**
 * Answers with the vendor's status and body; policy revision and warnings go in headers. A decided
 * change may carry a token value or a client_secret: no cache may keep it.
 */
export function relay(reply: FastifyReply, { answer, decision }: GatewayAnswer): unknown {
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
}
