import { hkdfSync } from 'node:crypto';

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
    cache.set(id, key);
  }
  return key;
}
