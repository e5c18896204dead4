import { createHmac } from 'node:crypto';

/** HMAC-SHA256 of a secret with the deployment's audit key: finds a leaked secret's records, reveals nothing. */
export function fingerprint(key: string, secret: string): string {
  return `hmac-sha256:${createHmac('sha256', key).update(secret, 'utf8').digest('hex')}`;
}

/** The MAC of the head file (last seq and hash): a truncated log cannot be passed off as whole without the key. */
export function headMac(key: string, seq: number, hash: string): string {
  return createHmac('sha256', key).update(`keygate-audit-head:${seq}:${hash}`).digest('hex');
}
