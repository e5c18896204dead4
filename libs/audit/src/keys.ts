import { createHmac, hkdfSync } from 'node:crypto';

/**
 * Keys derived from the deployment key (AUDIT_HMAC_KEY), one per purpose, domain-separated by
 * HKDF-SHA256's info string: a MAC made for one purpose (a fingerprint an auditor may ask for) is
 * never valid for another (the ledger's head, a checkpoint).
 */
export const KEY_PURPOSES = {
  fingerprint: 'keygate fingerprint v1',
  ledgerHead: 'keygate ledger head v1',
  checkpoint: 'keygate checkpoint v1',
} as const;

export type KeyPurpose = keyof typeof KEY_PURPOSES;

const cache = new Map<string, Buffer>();

/** HKDF-SHA256(AUDIT_HMAC_KEY, salt empty, info of the purpose), 32 bytes. */
export function deriveKey(deploymentKey: string, purpose: KeyPurpose): Buffer {
  const id = `${purpose}\u0000${deploymentKey}`;
  let key = cache.get(id);
  if (!key) {
    key = Buffer.from(
      hkdfSync(
        'sha256',
        Buffer.from(deploymentKey, 'utf8'),
        Buffer.alloc(0),
        KEY_PURPOSES[purpose],
        32,
      ),
    );
    if (cache.size > 48) cache.clear();
    cache.set(id, key);
  }
  return key;
}

const hmacHex = (key: Buffer | string, text: string): string =>
  createHmac('sha256', key).update(text, 'utf8').digest('hex');

/** HMAC-SHA256 of a secret with the fingerprint key: finds a leaked secret's records, reveals nothing. */
export function fingerprint(key: string, secret: string): string {
  return `hmac-sha256:${hmacHex(deriveKey(key, 'fingerprint'), secret)}`;
}

/**
 * The fingerprint an earlier release wrote (HMAC with the raw deployment key). Only for finding
 * old records: never answer it to anyone (with the raw key it is also the old head's MAC).
 */
export function legacyFingerprint(key: string, secret: string): string {
  return `hmac-sha256:${hmacHex(key, secret)}`;
}

const headText = (seq: number, hash: string) => `keygate-audit-head:${seq}:${hash}`;

/** The MAC of the head (last seq and hash), with the head key. */
export function headMac(key: string, seq: number, hash: string): string {
  return hmacHex(deriveKey(key, 'ledgerHead'), headText(seq, hash));
}

/** The head MAC an earlier release wrote (raw deployment key): accepted on an exact match only. */
export function legacyHeadMac(key: string, seq: number, hash: string): string {
  return hmacHex(key, headText(seq, hash));
}

/** The MAC of a checkpoint (seq and hash witnessed outside the log), with the checkpoint key. */
export function checkpointMac(key: string, seq: number, hash: string): string {
  return hmacHex(deriveKey(key, 'checkpoint'), `keygate-audit-checkpoint:${seq}:${hash}`);
}

/** Equal MACs, compared in constant time. */
export function sameMac(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string' || a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
