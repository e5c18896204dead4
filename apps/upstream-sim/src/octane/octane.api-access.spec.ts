import { meetsVendorSecretRule } from './octane.api-access';

describe("Octane's documented client_secret rule", () => {
  it.each([
    ['Abcdefgh1!', true],
    ['abcdefgh1!', true],
    ['ABCDEFGH1!', true],
    ['Abcdefghij', false],
    ['abcdefgh12', false],
    ['Abcdefg1!', false],
    ['A1!' + 'a'.repeat(27), true],
    ['A1!' + 'a'.repeat(28), false],
    ['', false],
  ])('%j -> %s', (secret, ok) => {
    expect(meetsVendorSecretRule(secret)).toBe(ok);
  });
});
