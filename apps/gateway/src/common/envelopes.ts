/** Which vendor's error shape a path answers in: callers of /qwiet and /octane see their vendor's envelope. */
export type EnvelopeKind = 'qwiet' | 'octane' | 'keygate';

export function envelopeFor(path: string): EnvelopeKind {
  if (path.startsWith('/qwiet/')) return 'qwiet';
  if (path.startsWith('/octane/')) return 'octane';
  return 'keygate';
}

export interface ErrorParts {
  code: string;
  message: string;
  /** Field (or subject) -> what is wrong with it. */
  details: Readonly<Record<string, string>>;
  requestId: string;
  extra?: Readonly<Record<string, unknown>>;
}

export function errorBody(kind: EnvelopeKind, e: ErrorParts): Record<string, unknown> {
  return { ...envelope(kind, e), ...e.extra };
}

function envelope(kind: EnvelopeKind, e: ErrorParts): Record<string, unknown> {
  const entries = Object.entries(e.details);
  switch (kind) {
    case 'qwiet':
      return {
        ok: false,
        code: e.code,
        message: e.message,
        ...(entries.length > 0 && {
          validation_errors: entries.map(([field, problem]) => `${field}: ${problem}`),
        }),
      };
    case 'octane':
      return {
        error_code: e.code,
        correlation_id: e.requestId,
        description: e.message,
        description_translated: e.message,
        properties: entries.length > 0 ? { ...e.details } : null,
      };
    case 'keygate':
      return {
        code: e.code,
        message: e.message,
        ...(entries.length > 0 && { details: e.details }),
        request_id: e.requestId,
      };
  }
}
