import { Inject, Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import type { Database } from '@app/ledger';
import type { Usage } from '@app/policy';
import type { PoolClient } from 'pg';
import { DATABASE } from '../database/database.tokens';

const HOUR_MS = 3600_000;

/** The quota cannot be counted: like an audit write that fails, the change is refused (fail closed). */
const unavailable = () =>
  new GatewayError(
    503,
    ErrorCode.AUDIT_UNAVAILABLE,
    'the audit ledger cannot be read to count the quota: Keygate refuses to issue until it can',
  );

/** A caller's quota place, counted and held while the policy decides. */
export interface QuotaHold {
  usage: Usage;
  /** The issuance is allowed: takes its place; the returned function gives it back. */
  reserve(): Promise<() => void>;
  /** Not allowed (or refused before the vendor): nothing taken. */
  cancel(): void;
}

/** The windows of one caller, counted under the locks (successes of the last hour and places held). */
const WINDOWS_SQL = `
  SELECT
    ARRAY(SELECT t FROM (
      SELECT time AS t FROM ledger_records
      WHERE phase = 'succeeded'
        AND event IN ('qwiet.token.issue', 'octane.api_access.create', 'octane.api_access.regenerate')
        AND coalesce(target ->> 'owner_team', actor ->> 'team') = $1
        AND time > now() - interval '1 hour'
      UNION ALL
      SELECT reserved_at FROM quota_reservations q
      WHERE team = $1 AND reserved_at > now() - interval '1 hour'
        AND NOT EXISTS (SELECT 1 FROM ledger_records o
                        WHERE o.request_id = q.request_id AND o.phase <> 'attempt')
    ) w ORDER BY t) AS team,
    ARRAY(SELECT t FROM (
      SELECT time AS t FROM ledger_records
      WHERE phase = 'succeeded'
        AND event IN ('qwiet.token.issue', 'octane.api_access.create', 'octane.api_access.regenerate')
        AND actor ->> 'subject' = $2
        AND time > now() - interval '1 hour'
      UNION ALL
      SELECT reserved_at FROM quota_reservations q
      WHERE subject = $2 AND reserved_at > now() - interval '1 hour'
        AND NOT EXISTS (SELECT 1 FROM ledger_records o
                        WHERE o.request_id = q.request_id AND o.phase <> 'attempt')
    ) w ORDER BY t) AS subject`;

/**
 * Credentials issued in the last hour, per team and per subject, for the quota rules. An allowed
 * issuance reserves its place before the vendor is called (so concurrent requests cannot overrun
 * a quota) and gives it back if it does not succeed.
 *
 * Counted in the database by hold(), under advisory transaction locks of the team and the subject
 * held while the policy decides, so N concurrent issuances through any number of instances against
 * a quota of K issue exactly K; the windows read there also answer usage() and retryAfterSeconds().
 * Nothing is counted in memory and nothing is read at start-up.
 */
@Injectable()
export class IssuanceCounter {
  private readonly windows = new Map<string, number[]>();

  constructor(@Inject(DATABASE) private readonly database: Database) {}

  /** Counts the caller's windows and holds them until reserve() or cancel(). */
  async hold(caller: Caller, requestId: string): Promise<QuotaHold> {
    const database = this.database;
    let client: PoolClient;
    try {
      client = await database.pool.connect();
    } catch {
      throw unavailable();
    }
    let done = false;
    const finish = async (sql: string, values: unknown[] = []) => {
      if (done) return;
      done = true;
      try {
        if (values.length > 0) await client.query(sql, values);
        await client.query('COMMIT');
        client.release();
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        client.release(error as Error);
        throw unavailable();
      }
    };
    try {
      // The locks are held until the reservation commits; that commit need not wait for the disk
      // (it is visible to every session at once, and the ledger records, not the reservations,
      // are the truth): the next request of the team waits for less.
      await client.query('BEGIN');
      await client.query('SET LOCAL synchronous_commit = off');
      // Both locks, always in the same order: two requests never wait on each other crosswise.
      const keys = [`keygate quota team:${caller.team}`, `keygate quota subject:${caller.subject}`];
      await client.query(
        'SELECT pg_advisory_xact_lock(hashtextextended($1, 0)), pg_advisory_xact_lock(hashtextextended($2, 0))',
        keys.sort(),
      );
      const { rows } = await client.query<{ team: Date[]; subject: Date[] }>(WINDOWS_SQL, [
        caller.team,
        caller.subject,
      ]);
      this.windows.set(
        `team:${caller.team}`,
        rows[0].team.map((d) => d.getTime()),
      );
      this.windows.set(
        `subject:${caller.subject}`,
        rows[0].subject.map((d) => d.getTime()),
      );
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(error as Error);
      throw unavailable();
    }
    return {
      usage: {
        teamLastHour: this.windows.get(`team:${caller.team}`)!.length,
        subjectLastHour: this.windows.get(`subject:${caller.subject}`)!.length,
      },
      reserve: async () => {
        await finish(
          'INSERT INTO quota_reservations (request_id, team, subject) VALUES ($1, $2, $3)',
          [requestId, caller.team, caller.subject],
        );
        return () => {
          // Not issued: the place is free again (a crash leaves it to the attempt's outcome).
          database
            .query('DELETE FROM quota_reservations WHERE request_id = $1', [requestId])
            .catch(() => undefined);
        };
      },
      cancel: () => {
        void finish('ROLLBACK').catch(() => undefined);
      },
    };
  }

  usage(caller: Caller, now = Date.now()): Usage {
    return {
      teamLastHour: this.window(`team:${caller.team}`, now).length,
      subjectLastHour: this.window(`subject:${caller.subject}`, now).length,
    };
  }

  /** Seconds until both of the caller's windows have room for `max` (the quotas in force). */
  retryAfterSeconds(
    caller: Caller,
    maxTeam: number | undefined,
    maxSubject: number | undefined,
    now = Date.now(),
  ): number {
    const wait = (key: string, max: number | undefined) => {
      const window = this.window(key, now);
      if (max === undefined || window.length < max) return 0;
      return window[window.length - max] + HOUR_MS - now;
    };
    return Math.max(
      1,
      Math.ceil(
        Math.max(
          wait(`team:${caller.team}`, maxTeam),
          wait(`subject:${caller.subject}`, maxSubject),
        ) / 1000,
      ),
    );
  }

  private window(key: string, now: number): number[] {
    let window = this.windows.get(key);
    if (!window) this.windows.set(key, (window = []));
    while (window.length > 0 && window[0] <= now - HOUR_MS) window.shift();
    return window;
  }
}
