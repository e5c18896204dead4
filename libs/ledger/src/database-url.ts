/**
 * DATABASE_URL as it may be shown: the password (in the URL's user part or a `password` query
 * parameter) replaced by `***`. An unparsable URL is never echoed.
 */
export function redactDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(an unparsable URL)';
  }
  if (parsed.password) parsed.password = '***';
  for (const name of [...parsed.searchParams.keys()])
    if (/pass/i.test(name)) parsed.searchParams.set(name, '***');
  return parsed.toString();
}

/** Why `url` is not a PostgreSQL connection URL (never echoing it), or undefined when it is one. */
export function databaseUrlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'DATABASE_URL is not a URL (postgres://user:password@host:5432/database)';
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    return `DATABASE_URL must start with postgres:// or postgresql:// (not ${parsed.protocol}//)`;
  if (!parsed.hostname && !parsed.searchParams.get('host'))
    return 'DATABASE_URL names no host (postgres://user:password@host:5432/database)';
  return undefined;
}
