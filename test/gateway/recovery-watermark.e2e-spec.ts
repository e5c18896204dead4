import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '../support/db';
import { plantAttempt, startGateway, startSimulator, StartedSimulator } from '../support/gateway';

/** One value of the database at `url`. */
async function one<T>(url: string, sql: string): Promise<T | undefined> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: T }>(sql);
    return rows[0]?.v;
  } finally {
    await client.end();
  }
}

/**
 * Crash recovery reads no history: a pass remembers below which seq every attempt is settled
 * (recovery_watermark), and the next start looks only after it.
 */
describe('crash recovery watermark', () => {
  let s: StartedSimulator;
  let db: TestDatabase;
  beforeAll(async () => {
    s = await startSimulator();
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await s?.sim.close();
    await db?.drop();
  });

  it('keeps an attempt the vendor may still act on above the watermark, then passes it once settled', async () => {
    const seq = await plantAttempt(db.url, s.options.qwietOrgs[0].id, 'req-watermark-1');
    // The vendor may still act for an hour: the attempt stays open, and the watermark stops at it.
    let g = await startGateway(s, { DATABASE_URL: db.url, LOST_ANSWER_WINDOW_MS: '3600000' });
    await g.close();
    expect(Number(await one<string>(db.url, 'SELECT seq AS v FROM recovery_watermark'))).toBe(seq);

    // The window has passed (0): the next start settles it, and the watermark moves past it.
    g = await startGateway(s, { DATABASE_URL: db.url, LOST_ANSWER_WINDOW_MS: '0' });
    await g.close();
    const settled = await one<string>(
      db.url,
      "SELECT count(*)::text AS v FROM ledger_records WHERE request_id = 'req-watermark-1' AND note ~ '^crash recovery:'",
    );
    expect(settled).toBe('1');
    const watermark = Number(await one<string>(db.url, 'SELECT seq AS v FROM recovery_watermark'));
    expect(watermark).toBeGreaterThan(seq);

    // A third start finds nothing to do and settles nothing twice.
    g = await startGateway(s, { DATABASE_URL: db.url, LOST_ANSWER_WINDOW_MS: '0' });
    await g.close();
    expect(
      await one<string>(
        db.url,
        "SELECT count(*)::text AS v FROM ledger_records WHERE request_id = 'req-watermark-1' AND note ~ '^crash recovery:'",
      ),
    ).toBe('1');
  });
});
