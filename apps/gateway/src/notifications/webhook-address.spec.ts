import { guardedLookup, refusedAddress, refusedHost } from './webhook-address';

describe('webhook addresses: link-local (cloud metadata) refused, the rest left to the policy', () => {
  it.each([
    '169.254.169.254',
    '169.254.0.1',
    'fe80::1',
    '[fe80::1]',
    'FEBF::1',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    'fd00:ec2::254',
  ])('refuses %s', (address) => expect(refusedAddress(address)).toBe(true));

  it.each([
    '127.0.0.1',
    '10.0.0.5',
    '192.168.1.1',
    '169.255.0.1',
    '::1',
    'fc00::1',
    'fec0::1',
    'fe8::1',
    'hooks.example.com',
  ])('leaves %s to the policy', (address) => expect(refusedAddress(address)).toBe(false));

  it('names the refusal for a literal host, none for a name (checked when it resolves)', () => {
    expect(refusedHost('169.254.169.254')?.message).toBe(
      'refused: 169.254.169.254 is a link-local address where cloud metadata lives; no webhook is sent there',
    );
    expect(refusedHost('[fe80::1]')?.message).toMatch(/link-local/);
    expect(refusedHost('metadata.google.internal')).toBeUndefined();
  });

  it('resolves a name as dns.lookup does when no address is refused (one address, or all)', async () => {
    const one = await new Promise<unknown>((resolve, reject) =>
      guardedLookup('localhost', {}, (error, address) =>
        error ? reject(error) : resolve(address),
      ),
    );
    expect(typeof one).toBe('string');
    const all = await new Promise<unknown>((resolve, reject) =>
      guardedLookup('localhost', { all: true }, (error, address) =>
        error ? reject(error) : resolve(address),
      ),
    );
    expect(Array.isArray(all)).toBe(true);
  });
});
