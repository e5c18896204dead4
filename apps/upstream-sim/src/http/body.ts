import type { IncomingMessage } from 'node:http';

export const MAX_BODY_BYTES = 1024 * 1024;

export type BodyResult =
  { kind: 'empty' } | { kind: 'json'; value: unknown } | { kind: 'invalid'; reason: string };

/** Reads the whole request body; JSON when the content type says so (or is absent). */
export async function readBody(req: IncomingMessage): Promise<BodyResult> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return { kind: 'invalid', reason: 'request body is too large' };
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return { kind: 'empty' };
  const type = (req.headers['content-type'] ?? 'application/json').toLowerCase();
  if (!type.includes('json'))
    return { kind: 'invalid', reason: `unsupported content type ${type}` };
  try {
    return { kind: 'json', value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch {
    return { kind: 'invalid', reason: 'request body is not valid JSON' };
  }
}
