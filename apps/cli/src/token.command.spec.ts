import { CallerVerifier } from '@app/auth';
import { tokenCommand } from './token.command';

describe('keygate token', () => {
  const secret = 'cli-test-secret-cli-test-secret-0123';
  const verifier = new CallerVerifier({
    mode: 'hs256',
    secret,
    teamClaim: 'team',
    rolesClaim: 'roles',
  });

  it('mints a token the gateway accepts, with team, subject and roles', async () => {
    const token = await tokenCommand(
      [
        '--team',
        'payments',
        '--sub',
        'alice',
        '--role',
        'keygate:admin',
        '--role',
        'keygate:auditor',
      ],
      { AUTH_JWT_SECRET: secret },
    );
    await expect(verifier.verify(`Bearer ${token}`)).resolves.toEqual({
      subject: 'alice',
      team: 'payments',
      roles: ['keygate:admin', 'keygate:auditor'],
    });
  });

  it.each([
    [['--sub', 'alice'], '--team and --sub are required'],
    [['--team', 'payments', '--sub', 'a', '--ttl', '-5'], '--ttl'],
    [['--team', 'payments', '--sub', 'a', '--bogus'], 'Unknown option'],
  ])('refuses %j', async (args, message) => {
    await expect(tokenCommand(args, { AUTH_JWT_SECRET: secret })).rejects.toThrow(message);
  });
});
