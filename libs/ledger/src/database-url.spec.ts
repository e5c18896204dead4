import { databaseUrlProblem, redactDatabaseUrl } from './database-url';

describe('DATABASE_URL as it may be shown', () => {
  it('hides the password of the user part and of a password parameter, and nothing else', () => {
    expect(redactDatabaseUrl('postgres://keygate:s3cret@db.internal:5432/keygate')).toBe(
      'postgres://keygate:***@db.internal:5432/keygate',
    );
    expect(
      redactDatabaseUrl('postgresql://db/keygate?user=k&password=s3cret&sslmode=require'),
    ).toBe('postgresql://db/keygate?user=k&password=***&sslmode=require');
    expect(redactDatabaseUrl('postgres://keygate@db/keygate')).toBe(
      'postgres://keygate@db/keygate',
    );
    expect(redactDatabaseUrl('not a url s3cret')).not.toContain('s3cret');
  });

  it('accepts postgres:// and postgresql:// URLs with a host; names the problem of others without echoing them', () => {
    expect(databaseUrlProblem('postgres://k:p@127.0.0.1:5432/keygate')).toBeUndefined();
    expect(databaseUrlProblem('postgresql://db/keygate')).toBeUndefined();
    for (const url of ['mysql://k:s3cret@db/k', 'k:s3cret@db/k', 'postgres://k:s3cret@/k']) {
      const problem = databaseUrlProblem(url);
      expect(problem).toMatch(/^DATABASE_URL /);
      expect(problem).not.toContain('s3cret');
    }
  });
});
