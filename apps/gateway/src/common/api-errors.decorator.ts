import { applyDecorators } from '@nestjs/common';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import type { HeadersObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { OctaneBulkErrorDto, OctaneErrorDto } from '../octane/dto/octane.response.dto';
import { QwietErrorDto } from '../qwiet/dto/qwiet.response.dto';

export type Vendor = 'qwiet' | 'octane';

/** What a vendor route can be: the statuses it can answer follow from it. */
export type VendorRouteKind =
  /** A read: roles, tokens, keys. */
  | 'read'
  /** Issues a credential (Qwiet token create, Octane api_access create): a body, policy, quota, audit. */
  | 'issue'
  /** Revokes without a body (Qwiet token delete). */
  | 'revoke'
  /** Revokes or regenerates with a body (Octane api_access update). */
  | 'update'
  /** Octane's sign-in and sign-out, answered by Keygate itself. */
  | 'session'
  /** A method the vendor does not serve on a path (405 only). */
  | 'not_allowed';

const NAME: Record<Vendor, string> = { qwiet: 'Qwiet', octane: 'Octane' };

const header = (description: string, example?: string) => ({
  description,
  schema: { type: 'string', ...(example !== undefined && { example }) },
});

/** On every answer. */
export const REQUEST_ID_HEADER: HeadersObject = {
  'X-Request-Id': header(
    "Keygate's request id (the caller's own X-Request-Id when it sent a valid one); in the audit log as request_id",
  ),
};
const RETRY_AFTER: HeadersObject = {
  'Retry-After': header('Seconds to wait before trying again', '60'),
};
const WWW_AUTHENTICATE: HeadersObject = {
  'WWW-Authenticate': header('How to authenticate', 'Bearer'),
};

/** The headers of a decided change (issuance, revocation, regeneration) that Keygate let through. */
export const DECIDED_HEADERS = (secret: boolean): HeadersObject => ({
  ...REQUEST_ID_HEADER,
  'X-Keygate-Policy-Revision': header(
    'Revision of the policy that decided (sha256 of the normalised document)',
    'sha256:0c5e…',
  ),
  'X-Keygate-Policy-Warnings': header(
    'Only when dry-run rules or clamps applied: "rule: message", comma-separated',
  ),
  'Cache-Control': header(
    secret
      ? 'no-store: the answer may carry a secret (shown once)'
      : 'no-store (every decided change)',
    'no-store',
  ),
});

const has = (kind: VendorRouteKind, ...kinds: VendorRouteKind[]) => kinds.includes(kind);

/** The statuses a route of that kind can answer, each with what it means there. */
function responses(vendor: Vendor, kind: VendorRouteKind): [number, string][] {
  const v = NAME[vendor];
  if (kind === 'not_allowed') {
    return [
      [405, `METHOD_NOT_ALLOWED: ${v} does not serve this method here (Allow lists those it does)`],
    ];
  }
  const changes = has(kind, 'issue', 'revoke', 'update');
  const body = has(kind, 'issue', 'update', 'session');
  const vendorCalled = kind !== 'session';
  const list: [number, string][] = [
    [
      400,
      kind === 'session'
        ? 'VALIDATION_FAILED: the body is not JSON'
        : `VALIDATION_FAILED: each bad field, parameter or id named; nothing reached ${v}` +
          (vendor === 'octane' && kind === 'issue'
            ? `; or ${v}'s own refusal in its bulk envelope`
            : ''),
    ],
    [401, 'UNAUTHENTICATED: missing, malformed, expired or wrongly signed company JWT'],
  ];
  if (vendorCalled) {
    list.push([
      403,
      'FORBIDDEN (an org or shared space outside the team’s scope) or POLICY_VIOLATION ' +
        '(`violations`: each rule, its limit and the value sent; `policy_revision`)' +
        (has(kind, 'revoke', 'update')
          ? '; PROTECTED_CREDENTIAL: Keygate’s own vendor credential cannot be revoked or regenerated through the proxy'
          : '') +
        `; or ${v}'s own refusal`,
    ]);
    list.push([
      404,
      `NOT_FOUND: Keygate holds no credential for this ${vendor === 'qwiet' ? 'org' : 'shared space'}, or ${v} knows no such ${kind === 'read' ? 'entity' : 'credential'}`,
    ]);
  }
  const idempotent =
    'IDEMPOTENT_REPLAY (the Idempotency-Key’s request already issued: credential_id), IDEMPOTENCY_IN_PROGRESS';
  if (vendor === 'octane' && kind === 'issue') {
    list.push([
      409,
      `Octane: a key of that name already exists (platform.duplicate_entity_error, bulk envelope); ${idempotent}`,
    ]);
  } else if (has(kind, 'issue', 'update')) {
    list.push([409, idempotent]);
  }
  if (has(kind, 'issue', 'update')) {
    list.push([422, 'IDEMPOTENCY_KEY_REUSED: the Idempotency-Key came with another request']);
  }
  if (body) {
    list.push([413, 'PAYLOAD_TOO_LARGE: the body is over BODY_LIMIT']);
    list.push([415, 'UNSUPPORTED_MEDIA_TYPE: the body is not application/json']);
  }
  list.push([
    429,
    'RATE_LIMITED: the caller’s request budget for the minute is spent' +
      (has(kind, 'issue', 'update')
        ? '; QUOTA_EXCEEDED: the team’s or subject’s issuance quota for the hour (`violations`, `policy_revision`)'
        : '') +
      '; `retry_after_seconds` and Retry-After say how long to wait',
  ]);
  if (vendorCalled) {
    list.push([
      502,
      `UPSTREAM_UNREACHABLE, UPSTREAM_BAD_RESPONSE, or UPSTREAM_CREDENTIALS_REJECTED (${v} refused Keygate's own credential)`,
    ]);
    list.push([
      503,
      (changes
        ? 'AUDIT_UNAVAILABLE: the audit log cannot be written, so nothing is issued or revoked; '
        : '') +
        `VENDOR_CIRCUIT_OPEN: ${v} is failing and Keygate is not calling it for now (Retry-After)`,
    ]);
    list.push([504, `UPSTREAM_TIMEOUT: ${v} did not answer in time`]);
  }
  return list;
}

const headersFor = (status: number): HeadersObject => ({
  ...REQUEST_ID_HEADER,
  ...(status === 401 && WWW_AUTHENTICATE),
  ...((status === 429 || status === 503) && RETRY_AFTER),
  ...(status === 405 && { Allow: header('The methods this path serves', 'GET, HEAD, PUT') }),
});

/** The header by which an admin names the team an issuance is for (policy: scope.owner_team). */
const FOR_TEAM = ApiHeader({
  name: 'X-Keygate-Team',
  required: false,
  description:
    'Admins only, where several teams use the org or shared space: the team the credential is for (one of them). Its rules apply and it owns what is issued.',
});

/** Creates and regenerations: a retry with the same key gets the first outcome (README). */
const IDEMPOTENCY_KEY = ApiHeader({
  name: 'Idempotency-Key',
  required: false,
  description:
    'Creates and regenerations: 1-255 printable characters, per caller, kept 24 h. A retry with the same key and request gets the first outcome (409 IDEMPOTENT_REPLAY with credential_id once issued: the secret is not shown again); the key with another request is 422 IDEMPOTENCY_KEY_REUSED.',
});

/**
 * Every error a vendor route of that kind can answer, in the vendor's envelope, with its headers:
 * one decorator instead of an @ApiResponse block per status and route.
 */
export function ApiVendorErrors(vendor: Vendor, kind: VendorRouteKind): MethodDecorator {
  const envelope = vendor === 'qwiet' ? QwietErrorDto : OctaneErrorDto;
  return applyDecorators(
    ...(has(kind, 'issue', 'update') ? [FOR_TEAM, IDEMPOTENCY_KEY] : []),
    ...responses(vendor, kind).map(([status, description]) =>
      ApiResponse({
        status,
        description,
        type: vendor === 'octane' && status === 409 ? OctaneBulkErrorDto : envelope,
        headers: headersFor(status),
      }),
    ),
  );
}

/** The successful answer of a vendor route: the vendor's body, Keygate's headers. */
export function ApiVendorAnswer(options: {
  status: number;
  type?: new () => unknown;
  description?: string;
  /** A change the policy decided: revision, warnings and no-store headers. */
  decided?: boolean;
  /** The answer may carry a secret. */
  secret?: boolean;
}): MethodDecorator {
  return ApiResponse({
    status: options.status,
    type: options.type,
    description: options.description ?? 'OK',
    headers: options.decided ? DECIDED_HEADERS(options.secret ?? false) : REQUEST_ID_HEADER,
  });
}
