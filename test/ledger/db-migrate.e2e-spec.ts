import { loadMigrations } from '@app/ledger';
import { createTestDatabase, TestDatabase } from '../support/db';
import { freePort, runToExit, tsNodeArgs } from '../support/processes';

const migrate = (env: NodeJS.ProcessEnv) =>
  runToExit([...tsNodeArgs('apps/cli/src/main.ts'), 'db', 'migrate'], env, '\u0000never');

describe('keygate db migrate', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => {
    await db.drop();
  });

  it('applies the pending migrations and prints them, then finds nothing to apply; never prints the password', async () => {
    const password = decodeURIComponent(new URL(db.url).password);
    const first = await migrate({ DATABASE_URL: db.url });
    expect(first.code).toBe(0);
    expect(first.output).toMatch(/applied 0001_ledger \(sha256 [0-9a-f]{12}\)/);
    expect(first.output).toContain('keygate_test:***@127.0.0.1');
    expect(first.output).not.toContain(password);

    const again = await migrate({ DATABASE_URL: db.url });
    expect(again.code).toBe(0);
    expect(again.output).toContain('nothing to apply');
    const latest = loadMigrations().at(-1)?.version;
    expect(again.output).toMatch(new RegExp(`schema: +${latest} `));
  }, 60_000);

  it('exits 1 naming DATABASE_URL, without its password, when the database cannot be reached', async () => {
    const port = await freePort();
    const run = await migrate({
      DATABASE_URL: `postgres://keygate:N0t-For-Logs-42@127.0.0.1:${port}/keygate`,
    });
    expect(run.code).toBe(1);
    expect(run.output).toContain(
      `DATABASE_URL postgres://keygate:***@127.0.0.1:${port}/keygate: the database cannot be reached`,
    );
    expect(run.output).not.toContain('N0t-For-Logs-42');
  }, 60_000);
});
