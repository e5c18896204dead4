import { SignJWT } from 'jose';
import { CallerVerifier } from './caller-verifier';

const SECRET = 'unit-secret-unit-secret-unit-secret-01';
const sign = (exp: number) =>
  new SignJWT({ team: 't', roles: ['keygate:auditor'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('s')
    .setExpirationTime(exp)
    .sign(new TextEncoder().encode(SECRET));

describe('CallerVerifier', () => {
  const verifier = new CallerVerifier({
    mode: 'hs256',
    secret: SECRET,
    teamClaim: 'team',
    rolesClaim: 'roles',
  });

  it('gives the caller of a valid token, the same when asked again (remembered)', async () => {
    const token = await sign(Math.floor(Date.now() / 1000) + 600);
    const first = await verifier.verify(`Bearer ${token}`);
    expect(first).toEqual({ subject: 's', team: 't', roles: ['keygate:auditor'] });
    await expect(verifier.verify(`Bearer ${token}`)).resolves.toBe(first);
  });

  it('never remembers a token past its exp', async () => {
    jest.useFakeTimers({ now: Date.now(), doNotFake: ['nextTick', 'setImmediate'] });
    try {
      const token = await sign(Math.floor(Date.now() / 1000) + 5);
      await verifier.verify(`Bearer ${token}`);
      jest.setSystemTime(Date.now() + 6000);
      await expect(verifier.verify(`Bearer ${token}`)).rejects.toThrow('token has expired');
    } finally {
      jest.useRealTimers();
    }
  });

  it('does not remember a refusal', async () => {
    const token = await sign(Math.floor(Date.now() / 1000) + 600);
    const tampered = `${token.slice(0, -2)}xx`;
    await expect(verifier.verify(`Bearer ${tampered}`)).rejects.toThrow();
    await expect(verifier.verify(`Bearer ${tampered}`)).rejects.toThrow();
  });
});
