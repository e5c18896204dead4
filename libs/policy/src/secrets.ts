import { randomInt } from 'node:crypto';

const CLASSES: [name: string, chars: string][] = [
  ['upper', 'ABCDEFGHJKLMNPQRSTUVWXYZ'],
  ['lower', 'abcdefghijkmnopqrstuvwxyz'],
  ['digit', '23456789'],
  ['special', '!#%+-=@^_'],
];

/** A few passwords that break every secret policy; matched case-insensitively, ignoring digits and symbols at the ends. */
const COMMON = [
  'password',
  'passw0rd',
  'welcome',
  'changeme',
  'letmein',
  'qwerty',
  'qwertyuiop',
  'admin',
  'administrator',
  'secret',
  'iloveyou',
  'monkey',
  'dragon',
  'football',
  'baseball',
  'sunshine',
  'princess',
  'trustno1',
  'abc123',
  '123456',
  '12345678',
  '123456789',
  '1234567890',
  'default',
  'octane',
  'almoctane',
  'apikey',
];

export function characterClasses(secret: string): number {
  return [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(secret)).length;
}

export function isCommonPassword(secret: string): boolean {
  const core = secret.toLowerCase().replace(/^[^a-z]+|[^a-z]+$/g, '');
  return COMMON.includes(secret.toLowerCase()) || (core.length >= 5 && COMMON.includes(core));
}

/** A random secret with every character class, within Octane's 30-character limit. */
export function generateSecret(length = 28): string {
  const all = CLASSES.map(([, chars]) => chars).join('');
  const chars = CLASSES.map(([, set]) => set[randomInt(set.length)]);
  while (chars.length < length) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}
