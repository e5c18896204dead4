import { isIP } from 'node:net';

/**
 * Which proxies in front of Keygate to believe about the client's address (X-Forwarded-For):
 * none (undefined, the default), the given addresses and CIDR ranges, or the N nearest hops.
 * It becomes Fastify's `trustProxy` option, and so `request.ip` (the audit's `actor.ip`).
 */
export type TrustProxy = number | string[] | undefined;

const MAX_HOPS = 10;

function cidrProblem(entry: string): string | undefined {
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return `${JSON.stringify(entry)} is not an address or CIDR`;
  if (prefix === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max)
    return `${JSON.stringify(entry)} has a prefix length outside 0-${max}`;
  return undefined;
}

/**
 * TRUST_PROXY: a hop count (`1`: the nearest proxy, whoever it is), or a comma-separated list of
 * addresses and CIDRs (`10.0.0.0/8, 127.0.0.1`). Unset or empty: X-Forwarded-For is ignored.
 */
export function parseTrustProxy(raw: string | undefined, problems: string[]): TrustProxy {
  if (raw === undefined || raw.trim() === '') return undefined;
  const text = raw.trim();
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops < 1 || hops > MAX_HOPS) {
      problems.push(`TRUST_PROXY: a hop count must be 1-${MAX_HOPS} (unset it to trust no proxy)`);
      return undefined;
    }
    return hops;
  }
  const entries = text.split(',').map((e) => e.trim());
  const bad = entries.map((e) => (e === '' ? 'an empty entry' : cidrProblem(e))).filter(Boolean);
  if (bad.length > 0) {
    problems.push(
      `TRUST_PROXY must be a hop count or a comma-separated list of addresses/CIDRs: ${bad.join(', ')}`,
    );
    return undefined;
  }
  return entries;
}
