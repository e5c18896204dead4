import type { AuditEvent, AuditTarget } from '@app/audit';
import type { FastifyRequest } from 'fastify';
import { OCTANE_ID, UUID } from '@app/common';

/** A path segment as the audit records it: only when it is a well-formed id, never raw caller text. */
const id = (segment: string | undefined, shape: RegExp): string | undefined =>
  segment !== undefined && shape.test(segment) ? segment.toLowerCase() : undefined;

/** The audited event a request would be, from its route alone (nothing validated yet); undefined for reads. */
export function auditedEventOf(
  req: FastifyRequest,
): { event: AuditEvent; target: AuditTarget } | undefined {
  const path = req.url.split('?')[0];
  const qwiet = /^\/qwiet\/api\/v4\/orgs\/([^/]+)\/tokens(?:\/([^/]+))?$/.exec(path);
  if (qwiet && req.method === 'POST' && !qwiet[2])
    return { event: 'qwiet.token.issue', target: { vendor: 'qwiet', org_id: id(qwiet[1], UUID) } };
  if (qwiet && req.method === 'DELETE' && qwiet[2]) {
    return {
      event: 'qwiet.token.revoke',
      target: { vendor: 'qwiet', org_id: id(qwiet[1], UUID), credential_id: id(qwiet[2], UUID) },
    };
  }
  const octane = /^\/octane\/api\/shared_spaces\/([^/]+)\/api_accesses(?:\/([^/]+))?$/.exec(path);
  if (octane && req.method === 'POST' && !octane[2]) {
    return {
      event: 'octane.api_access.create',
      target: { vendor: 'octane', shared_space_id: id(octane[1], OCTANE_ID) },
    };
  }
  if (octane && req.method === 'PUT' && octane[2]) {
    const revoke = (req.body as { is_valid?: unknown } | undefined)?.is_valid === false;
    return {
      event: revoke ? 'octane.api_access.revoke' : 'octane.api_access.regenerate',
      target: {
        vendor: 'octane',
        shared_space_id: id(octane[1], OCTANE_ID),
        credential_id: id(octane[2], OCTANE_ID),
      },
    };
  }
  return undefined;
}
