import { GatewayError } from '@app/common';
import { canonicalJson, IdempotencyKeys, routeOf } from './idempotency';
import { retryDelayMs } from './verification';

describe('Idempotency-Key: the request a key is bound to', () => {
  it('hashes the same request the same, whatever the order of its keys', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}',
    );
    expect(canonicalJson({ a: 1, skipped: undefined })).toBe(canonicalJson({ a: 1 }));
    expect(canonicalJson({ a: '1' })).not.toBe(canonicalJson({ a: 1 }));
  });

  it('binds a key to the action and the org or shared space (and key) addressed', () => {
    expect(routeOf('qwiet.token.issue', { vendor: 'qwiet', org_id: 'o-1' })).toBe(
      'qwiet.token.issue o-1',
    );
    expect(
      routeOf('octane.api_access.regenerate', {
        vendor: 'octane',
        shared_space_id: '1001',
        credential_id: '1003',
      }),
    ).toBe('octane.api_access.regenerate 1001 1003');
  });

  it('takes 1-255 printable ASCII characters, once', () => {
    expect(IdempotencyKeys.parse(undefined)).toBeUndefined();
    expect(IdempotencyKeys.parse('a')).toBe('a');
    expect(IdempotencyKeys.parse(' ~'.repeat(127) + 'x')).toHaveLength(255);
    for (const bad of ['', 'k'.repeat(256), 'tab\there', 'é', ['a', 'b']]) {
      expect(() => IdempotencyKeys.parse(bad)).toThrow(GatewayError);
    }
  });
});

describe('verified revocation: the backoff of its checks', () => {
  it('is 1 minute after the first check, doubling, at most an hour', () => {
    expect([1, 2, 3, 4, 6, 7, 20].map((n) => retryDelayMs(n) / 60_000)).toEqual([
      1, 2, 4, 8, 32, 60, 60,
    ]);
  });
});
