import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { importAuditLog, LedgerImportRefused } from '@app/ledger';
import { onDatabase } from './database';

export const AUDIT_IMPORT_USAGE = `keygate audit import DIR
  Loads the file log in DIR (segments and head, as Keygate's file sink writes them, head MAC of
  this release or the earlier raw-key one) into the PostgreSQL ledger at DATABASE_URL, after
  verifying it with AUDIT_HMAC_KEY (a broken log is refused naming its first bad record): seq,
  prev_hash, time and each exact line are kept, so the chain goes on, and the credentials
  inventory is rebuilt from the outcomes. The ledger must be empty, or end at a record of the
  log (then only the records after it are added). All or nothing. Exit status 1 when refused.`;

/** `keygate audit import`: the report to print and the exit status. */
export async function auditImportCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ output: string; status: number }> {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  if (positionals.length !== 1) return { output: `usage: ${AUDIT_IMPORT_USAGE}`, status: 2 };
  const dir = positionals[0];
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    return { output: `${dir}: no such directory`, status: 1 };
  const key = env.AUDIT_HMAC_KEY;
  if (!key)
    return {
      output: 'AUDIT_HMAC_KEY is not set (the key of the file log’s head, and the ledger’s)',
      status: 1,
    };
  return onDatabase(env, { max: 1, applicationName: 'keygate-import' }, async (database) => {
    try {
      const started = process.hrtime.bigint();
      const result = await importAuditLog(database, { dir, key });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const what =
        result.records === 0
          ? `nothing to import: the ledger already ends at the log's last record (seq ${result.continued})`
          : `imported ${result.records} records (seq ${result.from} to ${result.to})${result.continued > 0 ? `, continuing the ledger's head at seq ${result.continued}` : ' into an empty ledger'}`;
      return {
        output: [
          `${dir} -> ${database.safeUrl}: ${what}, ${seconds.toFixed(3)} s`,
          `  log head:  ${result.fileHead}`,
          `  inventory: ${result.inventory} credential(s)`,
          `  check it:  keygate audit verify --db`,
        ].join('\n'),
        status: 0,
      };
    } catch (error) {
      if (error instanceof LedgerImportRefused)
        return { output: `${dir}: ${error.message}`, status: 1 };
      throw error;
    }
  });
}
