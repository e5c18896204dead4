import { Database, DatabaseUnreachableError } from '@app/ledger';

export interface CommandResult {
  output: string;
  status: number;
}

/**
 * Runs a command's work on DATABASE_URL: exit 1 naming it (never its password) when the database
 * cannot be reached; the connections closed however the work ends.
 */
export async function onDatabase(
  options: { url: string; max?: number; applicationName: string },
  work: (database: Database) => Promise<CommandResult>,
): Promise<CommandResult> {
  let database: Database;
  try {
    database = await Database.connect(options);
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
