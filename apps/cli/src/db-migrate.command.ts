import { MigrationError } from '@app/ledger';
import { onDatabase } from './database';

export const DB_MIGRATE_USAGE = `keygate db migrate
  Applies the pending schema migrations to DATABASE_URL (under the advisory lock the gateway also
  takes at start-up, so it is safe while instances run or start) and prints what it applied.
  Exit status 1 when the database cannot be reached or a migration is refused or fails.`;

/** `keygate db migrate`: the report to print and the exit status. */
export async function dbMigrateCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ output: string; status: number }> {
  if (args.length > 0) return { output: `usage: ${DB_MIGRATE_USAGE}`, status: 2 };
  return onDatabase(env, { applicationName: 'keygate-migrate' }, async (database) => {
    try {
      const report = await database.migrate();
      const lines = [
        `${database.safeUrl}:`,
        ...(report.applied.length > 0
          ? report.applied.map(
              (m) => `  applied ${m.version}_${m.name} (sha256 ${m.checksum.slice(0, 12)})`,
            )
          : ['  nothing to apply']),
        `  schema:  ${report.current.at(-1)?.version ?? 'none'} (${report.current.length} migration(s) applied)`,
        ...(report.unknown.length > 0
          ? [`  note:    applied by a newer release: ${report.unknown.join(', ')}`]
          : []),
      ];
      return { output: lines.join('\n'), status: 0 };
    } catch (error) {
      if (error instanceof MigrationError) return { output: error.message, status: 1 };
      throw error;
    }
  });
}
