import { Database, DatabaseUnreachableError } from '@app/ledger';

export interface CommandResult {
  output: string;
  status: number;
}

/**
 * Runs a command's work on DATABASE_URL: exit 1 when it is not set, or naming it (never its
 * password) when the database cannot be reached; the connections closed however the work ends.
 */
export async function onDatabase(
  env: NodeJS.ProcessEnv,
  options: { max?: number; applicationName: string },
  work: (database: Database) => Promise<CommandResult>,
): Promise<CommandResult> {
  const url = env.DATABASE_URL;
  if (!url)
    return {
      output: 'DATABASE_URL is not set (postgres://user:password@host:5432/database)',
      status: 1,
    };
  let database: Database;
  try {
    database = await Database.connect({ ...options, url });
  } catch (error) {
    if (error instanceof DatabaseUnreachableError) return { output: error.message, status: 1 };
    throw error;
  }
  try {
    return await work(database);
  } finally {
    await database.close();
  }
}
