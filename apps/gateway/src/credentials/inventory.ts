import { CREATING_EVENTS } from '@app/audit';
import type { AuditRecord } from '@app/audit';
import { ErrorCode, GatewayError } from '@app/common';
import type { Database } from '@app/ledger';

/** One credential of the inventory, as GET /v1/credentials answers it (never a secret). */
export interface InventoryCredential {
  vendor: 'qwiet' | 'octane';
  /** The Qwiet org id or the Octane shared space id. */
  scope: string;
  credential_id: string;
  client_id: string | null;
  /** Qwiet: the token's label; Octane: the key's name. */
  name: string | null;
  role_ids: string[];
  token_type: string | null;
  owner_team: string;
  subject: string;
  created_at: string;
  expires_at: string | null;
  status: string;
  revoked_at: string | null;
  revoked_by: string | null;
  verified_at: string | null;
  last_checked_at: string | null;
}

/** The key of a credential: vendor, scope, id. */
export interface CredentialKey {
  vendor: 'qwiet' | 'octane';
  scope: string;
  credential_id: string;
}

interface Row extends Omit<
  InventoryCredential,
  'created_at' | 'expires_at' | 'revoked_at' | 'verified_at' | 'last_checked_at'
> {
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  verified_at: Date | null;
  last_checked_at: Date | null;
  /** created_at exactly (microseconds), for the cursor. */
  created_key: string;
}

const COLUMNS = `vendor, scope, credential_id, client_id, name, role_ids, token_type, owner_team,
  subject, created_at, expires_at, status, revoked_at, revoked_by, verified_at, last_checked_at,
  to_json(created_at) #>> '{}' AS created_key`;

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function view(r: Row): InventoryCredential {
  return {
    vendor: r.vendor,
    scope: r.scope,
    credential_id: r.credential_id,
    client_id: r.client_id,
    name: r.name,
    role_ids: r.role_ids,
    token_type: r.token_type,
    owner_team: r.owner_team,
    subject: r.subject,
    created_at: r.created_at.toISOString(),
    expires_at: iso(r.expires_at),
    status: r.status,
    revoked_at: iso(r.revoked_at),
    revoked_by: r.revoked_by,
    verified_at: iso(r.verified_at),
    last_checked_at: iso(r.last_checked_at),
  };
}

/**
 * The row's owner_team is the one its issuing ledger record names (issued_seq: that record, about
 * this very credential). The ledger is append-only and hash-chained; the inventory row is not: a
 * row a database writer changed (another team written in, issued_seq pointed elsewhere) gives no
 * member a view of it. Used with the row's alias.
 */
export const ledgerOwned = (alias: string): string => `EXISTS (
  SELECT 1 FROM ledger_records o WHERE o.seq = ${alias}.issued_seq
    AND coalesce(o.target ->> 'owner_team', o.actor ->> 'team') = ${alias}.owner_team
    AND o.target ->> 'vendor' = ${alias}.vendor
    AND lower(o.target ->> 'credential_id') = ${alias}.credential_id
    AND lower(coalesce(o.target ->> 'org_id', o.target ->> 'shared_space_id')) = lower(${alias}.scope))`;

/** The events whose succeeded record issues a credential, as SQL literals (constants). */
const CREATING_EVENTS_SQL = [...CREATING_EVENTS].map((e) => `'${e}'`).join(', ');

/** The filters of an inventory query; `visibleTeam`: the only team the caller may see (members). */
export interface InventoryFilter {
  visibleTeam?: string;
  vendor?: string;
  scope?: string;
  team?: string;
  subject?: string;
  status?: string;
  expiresBefore?: string;
  createdAfter?: string;
  limit: number;
  cursor?: string;
}

/** The position after the last row of a page: (created_at, vendor, scope, credential_id). */
type CursorKey = [string, string, string, string];

const encodeCursor = (key: CursorKey): string =>
  Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');

function decodeCursor(cursor: string): CursorKey {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(key) &&
      key.length === 4 &&
      key.every((k) => typeof k === 'string' && k.length <= 256) &&
      !Number.isNaN(Date.parse(key[0] as string))
    )
      return key as CursorKey;
  } catch {
    // answered below
  }
  throw new GatewayError(400, ErrorCode.VALIDATION_FAILED, 'invalid cursor', {
    cursor: 'must be a next_cursor of this API',
  });
}

/**
 * GET /v1/credentials: newest first, ordered by (created_at, vendor, scope, credential_id)
 * descending, in keyset pages (the cursor is the last row's key); indexes of 0004.
 */
export async function listInventory(
  database: Database,
  f: InventoryFilter,
): Promise<{ credentials: InventoryCredential[]; next_cursor?: string }> {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (sql: (p: string) => string, value: unknown) => {
    values.push(value);
    where.push(sql(`$${values.length}`));
  };
  if (f.visibleTeam !== undefined) add((p) => `owner_team = ${p}`, f.visibleTeam);
  if (f.team !== undefined) add((p) => `owner_team = ${p}`, f.team);
  if (f.vendor !== undefined) add((p) => `vendor = ${p}`, f.vendor);
  if (f.scope !== undefined) add((p) => `scope = ${p}`, normalScope(f.vendor, f.scope));
  if (f.subject !== undefined) add((p) => `subject = ${p}`, f.subject);
  if (f.status !== undefined) add((p) => `status = ${p}`, f.status);
  if (f.expiresBefore !== undefined)
    add((p) => `expires_at < ${p}::timestamptz`, new Date(f.expiresBefore).toISOString());
  if (f.createdAfter !== undefined)
    add((p) => `created_at >= ${p}::timestamptz`, new Date(f.createdAfter).toISOString());
  if (f.cursor !== undefined) {
    const [created, vendor, scope, id] = decodeCursor(f.cursor);
    values.push(created, vendor, scope, id);
    const n = values.length;
    where.push(
      `(created_at, vendor, scope, credential_id) < ($${n - 3}::timestamptz, $${n - 2}, $${n - 1}, $${n})`,
    );
  }
  values.push(f.limit + 1);
  // A member's rows are checked against their issuing ledger record in the select list, not the
  // WHERE (there the planner gives up the index order and checks the team's every row): a row the
  // ledger contradicts is left out of the page, which is then shorter; the cursor still moves on.
  const { rows } = await database.query<Row & { ledger_owned?: boolean }>(
    `SELECT ${COLUMNS}${f.visibleTeam !== undefined ? `, ${ledgerOwned('credentials')} AS ledger_owned` : ''}
     FROM credentials
     ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY created_at DESC, vendor DESC, scope DESC, credential_id DESC
     LIMIT $${values.length}`,
    values,
  );
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    credentials: page.filter((r) => r.ledger_owned !== false).map(view),
    ...(rows.length > f.limit && {
      next_cursor: encodeCursor([last.created_key, last.vendor, last.scope, last.credential_id]),
    }),
  };
}

/** Qwiet ids are kept in lower case; Octane ids as they are. */
const normalScope = (vendor: string | undefined, scope: string): string =>
  vendor === 'octane' ? scope : scope.toLowerCase();

/** One credential by its key, or undefined. */
export async function findCredential(
  database: Database,
  key: CredentialKey,
): Promise<(InventoryCredential & { ledger_owned: boolean }) | undefined> {
  const { rows } = await database.query<Row & { ledger_owned: boolean }>(
    `SELECT ${COLUMNS}, ${ledgerOwned('credentials')} AS ledger_owned FROM credentials
     WHERE vendor = $1 AND scope = $2 AND credential_id = $3`,
    [key.vendor, normalScope(key.vendor, key.scope), key.credential_id.toLowerCase()],
  );
  return rows[0] && { ...view(rows[0]), ledger_owned: rows[0].ledger_owned };
}

export const HISTORY_LIMIT = 500;

/**
 * A credential's audit history: the ledger records whose target is it (ledger_records_credential)
 * and, of their requests, the records of the same event that name no credential (an issuance's
 * attempt, made before the id was known; ledger_records_request), newest first, at most
 * HISTORY_LIMIT. Never another record of a request that wrote many (a drift pass's findings about
 * other teams' credentials, its summary): a member reads this.
 */
export async function credentialHistory(
  database: Database,
  key: CredentialKey,
): Promise<{ records: AuditRecord[]; truncated: boolean }> {
  const { rows } = await database.query<{ line: string }>(
    `WITH about AS (
       SELECT seq, request_id, event FROM ledger_records
       WHERE target ? 'credential_id' AND target ->> 'credential_id' IN ($1, lower($1), upper($1))
         AND target ->> 'vendor' = $2
         AND coalesce(lower(target ->> 'org_id'), target ->> 'shared_space_id') = $3)
     SELECT line FROM ledger_records
     WHERE seq IN (SELECT seq FROM about
                   UNION
                   SELECT r.seq FROM ledger_records r
                   JOIN about a ON r.request_id = a.request_id AND r.event = a.event
                   WHERE NOT (coalesce(r.target, '{}') ? 'credential_id'))
     ORDER BY seq DESC LIMIT $4`,
    [key.credential_id, key.vendor, normalScope(key.vendor, key.scope), HISTORY_LIMIT + 1],
  );
  return {
    records: rows.slice(0, HISTORY_LIMIT).map((r) => JSON.parse(r.line) as AuditRecord),
    truncated: rows.length > HISTORY_LIMIT,
  };
}

/** The ids of the credentials a team owns in one org or shared space (credentials_team_scope). */
export async function teamCredentialIds(
  database: Database,
  vendor: 'qwiet' | 'octane',
  scope: string,
  team: string,
): Promise<Set<string>> {
  let rows: { credential_id: string }[];
  try {
    ({ rows } = await database.query<{ credential_id: string }>(
      `SELECT credential_id FROM credentials
       WHERE owner_team = $1 AND vendor = $2 AND scope = $3 AND ${ledgerOwned('credentials')}`,
      [team, vendor, normalScope(vendor, scope)],
    ));
  } catch {
    // Without the inventory a member's list cannot be cut to their team: refused, never shown whole.
    throw new GatewayError(
      503,
      ErrorCode.AUDIT_UNAVAILABLE,
      'the credentials inventory cannot be read: a member’s list shows only their team’s credentials, so it is refused until it can',
    );
  }
  return new Set(rows.map((r) => r.credential_id.toLowerCase()));
}

/**
 * The credentials of an owner that may still work (offboarding), oldest first (credentials_subject
 * / _owner): active, and revoke_unverified (the vendor said revoked but it still works: revoked
 * again).
 */
export async function activeCredentialsOf(
  database: Database,
  owner: { subject?: string; team?: string; vendor?: string },
  limit: number,
): Promise<InventoryCredential[]> {
  // A subject's credentials: those whose row names them, and those whose issuing ledger record
  // does (a row a database writer changed still goes with who issued it).
  const { rows } = await database.query<Row>(
    `WITH issued_by AS (
       SELECT c.vendor, c.scope, c.credential_id FROM ledger_records r
       JOIN credentials c ON c.vendor = r.target ->> 'vendor'
         AND c.scope = coalesce(r.target ->> 'org_id', r.target ->> 'shared_space_id')
         AND c.credential_id = lower(r.target ->> 'credential_id') AND c.issued_seq = r.seq
       WHERE $1::text IS NOT NULL AND r.actor ->> 'subject' = $1 AND r.phase = 'succeeded'
         AND r.event IN (${CREATING_EVENTS_SQL}))
     SELECT ${COLUMNS} FROM credentials
     WHERE status IN ('active', 'revoke_unverified')
       AND ($1::text IS NULL OR subject = $1
            OR (vendor, scope, credential_id) IN (SELECT * FROM issued_by))
       AND ($2::text IS NULL OR owner_team = $2) AND ($3::text IS NULL OR vendor = $3)
     ORDER BY created_at, vendor, scope, credential_id LIMIT $4`,
    [owner.subject ?? null, owner.team ?? null, owner.vendor ?? null, limit],
  );
  return rows.map(view);
}

/** The credentials of a leaked secret's fingerprint (credentials_fingerprint). */
export async function credentialsByFingerprint(
  database: Database,
  fingerprints: string[],
): Promise<InventoryCredential[]> {
  const { rows } = await database.query<Row>(
    `SELECT ${COLUMNS} FROM credentials
     WHERE fingerprint IS NOT NULL AND fingerprint = ANY($1::text[])
     ORDER BY created_at DESC`,
    [fingerprints],
  );
  return rows.map(view);
}

/** The statuses of these credentials now (after an offboarding's revocations). */
export async function statusesOf(
  database: Database,
  keys: CredentialKey[],
): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const { rows } = await database.query<CredentialKey & { status: string }>(
    `SELECT c.vendor, c.scope, c.credential_id, c.status FROM credentials c
     JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(vendor, scope, credential_id)
       USING (vendor, scope, credential_id)`,
    [keys.map((k) => k.vendor), keys.map((k) => k.scope), keys.map((k) => k.credential_id)],
  );
  return new Map(rows.map((r) => [keyOf(r), r.status]));
}

export const keyOf = (k: CredentialKey): string => `${k.vendor}/${k.scope}/${k.credential_id}`;

/** An inventory read that fails answers 503 AUDIT_UNAVAILABLE (never a raw database error). */
export async function inventoryRead<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    // A mistake of Keygate's own stays a 500; the database failing is a 503.
    if (error instanceof GatewayError || error instanceof TypeError || error instanceof RangeError)
      throw error;
    throw new GatewayError(
      503,
      ErrorCode.AUDIT_UNAVAILABLE,
      'the credentials inventory cannot be read now: try again',
    );
  }
}
