import { existsSync, readFileSync } from 'node:fs';
import { DEV_AUDIT_KEY_FILE } from '@app/auth';
import { AUDIT_ACCEPT_LOSS_USAGE, auditAcceptLossCommand } from './audit-accept-loss.command';
import { AUDIT_EXPORT_USAGE, auditExportCommand } from './audit-export.command';
import { AUDIT_IMPORT_USAGE, auditImportCommand } from './audit-import.command';
import { AUDIT_VERIFY_USAGE, runAuditVerify } from './audit-verify.command';
import { DB_MIGRATE_USAGE, dbMigrateCommand } from './db-migrate.command';
import { POLICY_CHECK_USAGE, policyCheckCommand } from './policy-check.command';
import { TOKEN_USAGE, tokenCommand } from './token.command';

const indent = (text: string) => `  ${text.replace(/\n/g, '\n  ')}`;
const USAGE = `usage: keygate <command> [options]

commands:
${indent(TOKEN_USAGE)}
${indent(POLICY_CHECK_USAGE)}
${indent(AUDIT_VERIFY_USAGE)}
${indent(AUDIT_ACCEPT_LOSS_USAGE)}
${indent(AUDIT_EXPORT_USAGE)}
${indent(AUDIT_IMPORT_USAGE)}
${indent(DB_MIGRATE_USAGE)}`;

function report({ output, status }: { output: string; status: number }): number {
  (status === 0 ? process.stdout : process.stderr).write(`${output.trimEnd()}\n`);
  return status;
}

/**
 * The environment the commands run with: the process's, where AUDIT_HMAC_KEY falls back to the
 * embedded default's key when this checkout has one (`npm start` made it; never created here).
 * The commands read the key from this env only, never from files of their own.
 */
function commandEnv(): NodeJS.ProcessEnv {
  if (process.env.AUDIT_HMAC_KEY || !existsSync(DEV_AUDIT_KEY_FILE)) return process.env;
  return { ...process.env, AUDIT_HMAC_KEY: readFileSync(DEV_AUDIT_KEY_FILE, 'utf8').trim() };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const env = commandEnv();
  switch (command) {
    case 'token':
      process.stdout.write(`${await tokenCommand(rest, env)}\n`);
      return 0;
    case 'policy':
      if (rest[0] !== 'check') break;
      return report(policyCheckCommand(rest.slice(1)));
    case 'audit':
      if (rest[0] === 'accept-loss')
        return report(await auditAcceptLossCommand(rest.slice(1), env));
      if (rest[0] === 'export') return report(await auditExportCommand(rest.slice(1), env));
      if (rest[0] === 'import') return report(await auditImportCommand(rest.slice(1), env));
      if (rest[0] !== 'verify') break;
      return report(await runAuditVerify(rest.slice(1), env));
    case 'db':
      if (rest[0] !== 'migrate') break;
      return report(await dbMigrateCommand(rest.slice(1), env));
    case undefined:
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
  }
  process.stderr.write(`unknown command: ${argv.join(' ')}\n\n${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
