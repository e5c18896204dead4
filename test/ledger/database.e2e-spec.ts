import { Database } from '@app/ledger';
import { asServer, useDatabase } from '../support/db';
import { until } from '../support/until';

describe('Database (a real PostgreSQL)', () => {
  const holder = useDatabase();

  it('survives the server ending a connection that is checked out (the query fails; no process crash)', async () => {
    const idleErrors: Error[] = [];
    const db = await Database.connect({
      url: holder.url,
      applicationName: 'keygate-checked-out',
      onIdleError: (error) => idleErrors.push(error),
    });
    try {
      const client = await db.pool.connect();
      await client.query('BEGIN');
      // A transaction held open (as a quota hold is across a vendor call) when the server goes away.
      await asServer(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'keygate-checked-out'",
      );
      // No listener of the test's own: the error reaches only what the Database attached.
      await until(async () => (idleErrors.length > 0 ? true : undefined));
      await expect(client.query('SELECT 1')).rejects.toThrow();
      client.release(true);
      // The pool goes on with a fresh connection.
      expect((await db.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
  });
});
