import { createHash, randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { Caller } from '@app/auth';
import { ErrorCode, GatewayError } from '@app/common';
import type { Database } from '@app/ledger';
import { CLOCK, Clock } from '../common/clock';
import { GATEWAY_CONFIG } from '../config/config.tokens';
import type { GatewayConfig } from '../config/gateway.config';
import { DATABASE } from '../database/database.tokens';

/** A session's last use is written at most this often (see touch). */
export const TOUCH_SECONDS = 15;

/** A pending sign-in (between /auth/login and /auth/callback) is good for this long, once. */
export const LOGIN_REQUEST_SECONDS = 600;

/** Sign-ins one address may start within LOGIN_REQUEST_SECONDS (then 429 until the oldest ages out). */
export const LOGINS_PER_ADDRESS = 60;
/** Pending sign-ins kept at most: past that, the oldest are deleted to make room. */
export const MAX_LOGIN_REQUESTS = 10_000;
/** Addresses remembered by the per-address count (the least recently seen are forgotten first). */
const MAX_ADDRESSES = 10_000;

/** A live session, as GET /auth/session shows it. */
export interface LiveSession {
  caller: Caller;
  csrfToken: string;
  createdAt: Date;
  /** The absolute end. */
  expiresAt: Date;
  /** The end if unused from now on (never past expiresAt). */
  idleExpiresAt: Date;
}

export interface LoginRequest {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  returnTo: string;
}

/** 256 random bits, base64url: a session id, a login cookie, a CSRF token. */
export const randomToken = (): string => randomBytes(32).toString('base64url');
const hashOf = (id: string): string => createHash('sha256').update(id).digest('hex');

interface SessionRow {
  subject: string;
  team: string;
  roles: string[];
  csrf_token: string;
  created_at: Date;
  expires_at: Date;
  last_seen_at: Date;
  idle_seconds: number;
}

/**
 * The console's sessions in PostgreSQL (`sessions`, migration 0007): the SHA-256 of each random id,
 * never the id; idle and absolute timeouts on the gateway's clock (tests move it). Expired
 * sessions are refused and deleted when met, and swept when a new one is made.
 */
@Injectable()
export class SessionStore {
  /** LOGINS_PER_ADDRESS (tests lower it). */
  loginsPerAddress = LOGINS_PER_ADDRESS;
  /** MAX_LOGIN_REQUESTS (tests lower it). */
  maxLoginRequests = MAX_LOGIN_REQUESTS;
  /** Address -> when each of its recent sign-ins started (ms, oldest first); this instance's. */
  private readonly loginStarts = new Map<string, number[]>();

  constructor(
    @Inject(DATABASE) private readonly database: Database,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  private now(): Date {
    return new Date(this.clock.now());
  }

  /** A new session for `caller`: its id (for the cookie only) and what it holds. */
  async create(caller: Caller): Promise<{ id: string; session: LiveSession }> {
    const { idleSeconds, absoluteSeconds } = this.config.signIn;
    const now = this.now();
    const id = randomToken();
    const csrfToken = randomToken();
    const expiresAt = new Date(now.getTime() + absoluteSeconds * 1000);
    await this.guarded(async () => {
      await this.sweep(now);
      await this.database.query(
        `INSERT INTO sessions (id_hash, subject, team, roles, csrf_token, created_at, last_seen_at,
                               idle_seconds, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)`,
        [
          hashOf(id),
          caller.subject,
          caller.team,
          [...caller.roles],
          csrfToken,
          now,
          idleSeconds,
          expiresAt,
        ],
      );
    });
    return {
      id,
      session: {
        caller: { subject: caller.subject, team: caller.team, roles: [...caller.roles] },
        csrfToken,
        createdAt: now,
        expiresAt,
        idleExpiresAt: minDate(new Date(now.getTime() + idleSeconds * 1000), expiresAt),
      },
    };
  }

  /**
   * The live session of `id`, its last use moved to now; undefined when there is none (unknown,
   * ended, idle too long or past its absolute end: then its row is deleted, in the same statement).
   * The last use is written at most every TOUCH_SECONDS: most requests of a session write nothing
   * (no commit to flush), and the idle timeout may come up to that much early.
   */
  async touch(id: string): Promise<LiveSession | undefined> {
    const now = this.now();
    const { rows } = await this.guarded(() =>
      this.database.query<SessionRow>(
        `WITH live AS (
           SELECT subject, team, roles, csrf_token, created_at, expires_at, last_seen_at,
                  idle_seconds
             FROM sessions
            WHERE id_hash = $1 AND expires_at > $2
              AND last_seen_at + make_interval(secs => idle_seconds) > $2
         ), seen AS (
           UPDATE sessions SET last_seen_at = $2
            WHERE id_hash = $1 AND EXISTS (SELECT 1 FROM live)
              AND last_seen_at < $2 - make_interval(secs => $3)
         ), gone AS (
           DELETE FROM sessions
            WHERE id_hash = $1 AND NOT EXISTS (SELECT 1 FROM live)
         )
         SELECT * FROM live`,
        [hashOf(id), now, TOUCH_SECONDS],
      ),
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      caller: { subject: row.subject, team: row.team, roles: row.roles },
      csrfToken: row.csrf_token,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      // This request is activity: the idle end counts from now.
      idleExpiresAt: minDate(new Date(now.getTime() + row.idle_seconds * 1000), row.expires_at),
    };
  }

  /** Ends the session of `id` (logout): its row is deleted. */
  async end(id: string): Promise<void> {
    await this.guarded(() =>
      this.database.query('DELETE FROM sessions WHERE id_hash = $1', [hashOf(id)]),
    );
  }

  /**
   * Counts a sign-in started by `address` (anonymous GET /auth/login): at most loginsPerAddress
   * within LOGIN_REQUEST_SECONDS, else 429 RATE_LIMITED with the seconds until the oldest ages out.
   * Kept in this instance's memory (bounded to MAX_ADDRESSES addresses).
   */
  admitLogin(address: string): void {
    const now = this.clock.now();
    const since = now - LOGIN_REQUEST_SECONDS * 1000;
    const starts = (this.loginStarts.get(address) ?? []).filter((t) => t > since);
    if (starts.length >= this.loginsPerAddress) {
      this.loginStarts.set(address, starts);
      const retryAfter = Math.max(1, Math.ceil((starts[0] - since) / 1000));
      throw new GatewayError(
        429,
        ErrorCode.RATE_LIMITED,
        `too many sign-ins started from this address: at most ${this.loginsPerAddress} in ${LOGIN_REQUEST_SECONDS} s; retry after ${retryAfter} s`,
        {},
        { retry_after_seconds: retryAfter },
      );
    }
    starts.push(now);
    // Re-inserted: the map's order is the least recently seen first.
    this.loginStarts.delete(address);
    this.loginStarts.set(address, starts);
    if (this.loginStarts.size > MAX_ADDRESSES) {
      const oldest = this.loginStarts.keys().next().value as string;
      this.loginStarts.delete(oldest);
    }
  }

  /**
   * Keeps a pending sign-in; returns the login cookie's value that finds it again. The expired
   * ones are deleted, and past maxLoginRequests the oldest go too: anonymous GET /auth/login
   * cannot grow the table without bound.
   */
  async saveLogin(login: LoginRequest): Promise<string> {
    const now = this.now();
    const id = randomToken();
    await this.guarded(async () => {
      await this.database.query('DELETE FROM login_requests WHERE created_at <= $1', [
        new Date(now.getTime() - LOGIN_REQUEST_SECONDS * 1000),
      ]);
      // Room for this one: the newest maxLoginRequests - 1 stay (by the created_at index).
      await this.database.query(
        `DELETE FROM login_requests
          WHERE id_hash IN (SELECT id_hash FROM login_requests
                             ORDER BY created_at DESC OFFSET $1)`,
        [Math.max(0, this.maxLoginRequests - 1)],
      );
      await this.database.query(
        `INSERT INTO login_requests (id_hash, state, nonce, code_verifier, redirect_uri, return_to,
                                     created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          hashOf(id),
          login.state,
          login.nonce,
          login.codeVerifier,
          login.redirectUri,
          login.returnTo,
          now,
        ],
      );
    });
    return id;
  }

  /** The pending sign-in of a login cookie, used up (deleted) whether or not it is still good. */
  async takeLogin(id: string): Promise<LoginRequest | undefined> {
    const now = this.now();
    const { rows } = await this.guarded(() =>
      this.database.query<{
        state: string;
        nonce: string;
        code_verifier: string;
        redirect_uri: string;
        return_to: string;
        created_at: Date;
      }>(
        `DELETE FROM login_requests WHERE id_hash = $1
         RETURNING state, nonce, code_verifier, redirect_uri, return_to, created_at`,
        [hashOf(id)],
      ),
    );
    const row = rows[0];
    if (!row || now.getTime() - row.created_at.getTime() > LOGIN_REQUEST_SECONDS * 1000)
      return undefined;
    return {
      state: row.state,
      nonce: row.nonce,
      codeVerifier: row.code_verifier,
      redirectUri: row.redirect_uri,
      returnTo: row.return_to,
    };
  }

  /** Deletes the sessions past their absolute end or idle too long. */
  private async sweep(now: Date): Promise<void> {
    await this.database.query(
      `DELETE FROM sessions
        WHERE expires_at <= $1 OR last_seen_at + make_interval(secs => idle_seconds) <= $1`,
      [now],
    );
  }

  /** A database failure is a 503 naming the session store, never the raw driver error. */
  private async guarded<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw new GatewayError(
        503,
        ErrorCode.SIGN_IN_UNAVAILABLE,
        'the session store (PostgreSQL) cannot be reached',
      );
    }
  }
}

const minDate = (a: Date, b: Date): Date => (a.getTime() <= b.getTime() ? a : b);
