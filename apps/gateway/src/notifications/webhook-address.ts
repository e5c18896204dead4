import { lookup } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';

/**
 * Where a webhook is never sent, whatever the policy says: link-local addresses (169.254.0.0/16,
 * fe80::/10, and the IPv4-mapped form), where cloud metadata services answer
 * (169.254.169.254, AWS's fd00:ec2::254 too). The policy's owner is trusted with the URL
 * (loopback and private receivers are legitimate), but no receiver lives there, and a name that
 * resolves there (DNS pointed at it) is refused at connect time, not only a literal address.
 */
export function refusedAddress(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '');
  const kind = isIP(a);
  if (kind === 4) return a.startsWith('169.254.');
  if (kind !== 6) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return refusedAddress(mapped[1]);
  if (/^::ffff:a9fe:/.test(a)) return true;
  if (/^fe[89ab][0-9a-f]:/.test(a)) return true;
  return a === 'fd00:ec2::254';
}

const refusal = (host: string, address: string): Error =>
  new Error(
    `refused: ${host} is a link-local address ${address === host ? '' : `(${address}) `}where cloud metadata lives; no webhook is sent there`.replace(
      /\s+/g,
      ' ',
    ),
  );

/** The refusal for a URL whose host is a link-local address itself, before any connection. */
export function refusedHost(hostname: string): Error | undefined {
  const host = hostname.replace(/^\[|\]$/g, '');
  return isIP(host) !== 0 && refusedAddress(host) ? refusal(host, host) : undefined;
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** dns.lookup, refusing a name that resolves to a refused address (http.request's `lookup`). */
export function guardedLookup(
  hostname: string,
  options: LookupOptions,
  callback: LookupCallback,
): void {
  lookup(hostname, { ...options }, (error, address: string | LookupAddress[], family?: number) => {
    if (error) return callback(error, address, family);
    const all = Array.isArray(address) ? address.map((a) => a.address) : [address];
    const bad = all.find(refusedAddress);
    if (bad !== undefined) return callback(refusal(hostname, bad), address, family);
    callback(null, address, family);
  });
}
