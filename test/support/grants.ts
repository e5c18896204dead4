import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './processes';

/**
 * The README's least-privilege grants, as written there (section "Database", its sql block): what
 * a superuser runs before the migrations, and what the migrator grants after them.
 */
export function readmeGrants(): { setup: string; afterMigrate: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Database'));
  const block = /```sql\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const cut = block.indexOf('-- After `keygate db migrate`');
  if (cut <= 0) throw new Error('README.md: the Database section has no grants block');
  return { setup: block.slice(0, cut), afterMigrate: block.slice(cut) };
}

/** The README's grants of the gateway role, for a role of another name. */
export function gatewayGrants(role: string): string {
  const { setup, afterMigrate } = readmeGrants();
  const forGateway = (sql: string) =>
    sql
      .split('\n')
      .filter((line) => line.startsWith('GRANT') && line.includes('keygate_gateway'))
      .join('\n');
  return `${forGateway(setup)}\n${forGateway(afterMigrate)}`.replaceAll('keygate_gateway', role);
}
