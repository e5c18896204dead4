import { Pool } from 'pg';
import type { PoolClient, QueryResult, QueryResultRow } from 'pg';
import { redactDatabaseUrl } from './database-url';
import { applyMigrations, loadMigrations } from './migrations';
import type { Migration, MigrationReport } from './migrations';

export interface DatabaseOptions {
  /** DATABASE_URL: postgres://user:password@host:5432/database */
  url: string;
  /** Connections of the pool (default 10). */
  max?: number;
  /** How long to wait for a connection, at start-up and from the pool (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Shown in pg_stat_activity (default `keygate`). */
  applicationName?: string;
  /** An idle connection broke (the server restarted, the network dropped): never thrown. */
  onIdleError?: (error: Error) => void;
}

/** The server cannot be reached or refuses the connection; the message names DATABASE_URL without its password. */
export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

export interface StoreHealth {
  ok: boolean;
  latencyMs?: number;
  /** Why it is down (the driver's message: never the password). */
  error?: string;
}

/** `error.code` of a pg or socket error, and its message, as one line. */
function describe(error: unknown): string {
  const e = error as { code?: string; message?: string; errors?: unknown[] };
  // An AggregateError (IPv4 and IPv6 both refused) has an empty message: name its first cause.
  const message = e.message || (e.errors?.[0] as Error | undefined)?.message || String(error);
  return e.code && !message.includes(e.code) ? `${message} (${e.code})` : message;
}

/**
 * The PostgreSQL store: a pg Pool over DATABASE_URL. `connect` proves the server answers before
 * anything else starts; `migrate` applies the schema; `close` ends every connection.
 */
export class Database {
  private constructor(
    readonly pool: Pool,
    /** DATABASE_URL without its password. */
    readonly safeUrl: string,
  ) {}

  /** Opens the pool and makes one round trip; DatabaseUnreachableError if it cannot. */
  static async connect(options: DatabaseOptions): Promise<Database> {
    const safeUrl = redactDatabaseUrl(options.url);
    const pool = new Pool({
      connectionString: options.url,
      max: options.max ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      application_name: options.applicationName ?? 'keygate',
    });
    // Without a listener, an idle connection's error would crash the process.
    pool.on('error', (error) => options.onIdleError?.(error));
    // So would the error of a connection that is checked out (a transaction held across a vendor
    // call when the server goes away): every connection keeps a listener for its whole life; the
    // query under way fails with the error all the same.
    pool.on('connect', (client) => {
      client.on('error', (error) => options.onIdleError?.(error));
    });
    const database = new Database(pool, safeUrl);
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new DatabaseUnreachableError(
        `DATABASE_URL ${safeUrl}: the database cannot be reached: ${describe(error)}`,
      );
    }
    return database;
  }

  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<QueryResult<R>> {
    return this.pool.query<R>(text, values);
  }

  /** Runs `work` on one connection inside BEGIN ... COMMIT (ROLLBACK when it throws). */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Runs `work` only if no other session (of any instance) holds the advisory lock `name`, taken on
   * a connection of its own for the whole work and released after it. `{ ran: false }` when
   * another holds it. A connection whose lock or unlock failed is closed, not pooled: its lock goes
   * with it.
   */
  async exclusively<T>(
    name: string,
    work: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }> {
    const session = await this.pool.connect();
    let broken: Error | undefined;
    try {
      const locked = await session
        .query<{ locked: boolean }>(
          'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS locked',
          [name],
        )
        .then((r) => r.rows[0]?.locked === true)
        .catch((error: Error) => {
          broken = error;
          throw error;
        });
      if (!locked) return { ran: false };
      try {
        return { ran: true, value: await work() };
      } finally {
        await session
          .query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [name])
          .catch((error: Error) => (broken = error));
      }
    } finally {
      session.release(broken);
    }
  }

  /**
   * Applies the pending migrations (default: those shipped with this release) under the advisory
   * lock, on one connection of the pool.
   */
  async migrate(migrations: Migration[] = loadMigrations()): Promise<MigrationReport> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      return await applyMigrations(client, migrations);
    } catch (error) {
      broken = error as Error;
      throw error;
    } finally {
      // A connection that failed mid-way may still hold the lock: drop it rather than reuse it.
      client.release(broken);
    }
  }

  /** One round trip, bounded by `timeoutMs`: is the store answering? */
  async ping(timeoutMs = 1000): Promise<StoreHealth> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.pool.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      return { ok: true, latencyMs: Math.round((performance.now() - started) * 100) / 100 };
    } catch (error) {
      return { ok: false, error: describe(error) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The version of the last migration applied (undefined on an empty database). */
  async schemaVersion(): Promise<string | undefined> {
    const table = await this.pool.query<{ exists: boolean }>(
      "SELECT to_regclass('schema_migrations') IS NOT NULL AS exists",
    );
    if (!table.rows[0].exists) return undefined;
    const { rows } = await this.pool.query<{ version: string | null }>(
      'SELECT max(version) AS version FROM schema_migrations',
    );
    return rows[0].version ?? undefined;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
