import { useEffect, useRef, useState } from 'preact/hooks';
import { api, hasRole, ROLES, serves, Session } from '../api';
import { ErrorNote, when } from '../ui';

/** One credential as the page shows it, whichever source it came from. */
export interface Credential {
  vendor: 'qwiet' | 'octane';
  scope: string;
  id: string;
  name: string;
  ownerTeam?: string;
  ownerSubject?: string;
  created?: string;
  expires?: string;
  status: string;
  marks: string[];
}

const SOON_MS = 7 * 24 * 3600 * 1000;
const ACTIVE = new Set(['active', 'valid', 'revoke_unverified']);

const s = (v: unknown) =>
  typeof v === 'string' ? v : v === undefined || v === null ? undefined : String(v);

/** A row of GET /v1/credentials (issue 14's inventory). */
interface InventoryRow {
  vendor: 'qwiet' | 'octane';
  scope: string;
  credential_id: string;
  client_id: string | null;
  name: string | null;
  owner_team: string;
  subject: string;
  created_at: string;
  expires_at: string | null;
  status: string;
  last_checked_at: string | null;
}

const MARKS: Record<string, string> = {
  revoke_unverified: 'revocation unverified: the vendor may still accept it',
  revoked_outside: 'drift: revoked outside Keygate',
};

function fromInventory(row: InventoryRow): Credential {
  return {
    vendor: row.vendor,
    scope: row.scope,
    id: row.credential_id,
    name: row.name ?? row.client_id ?? row.credential_id,
    ownerTeam: row.owner_team,
    ownerSubject: row.subject,
    created: row.created_at,
    expires: row.expires_at ?? undefined,
    status: row.status,
    marks: MARKS[row.status] ? [MARKS[row.status]] : [],
  };
}

/** Every page of the inventory (keyset pages of 500, at most 20 of them). */
async function inventory(): Promise<Credential[]> {
  const rows: Credential[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 20; i += 1) {
    const q = new URLSearchParams({ limit: '500', ...(cursor && { cursor }) });
    const page = await api<{ credentials: InventoryRow[]; next_cursor?: string }>(
      'GET',
      `/v1/credentials?${q.toString()}`,
    );
    rows.push(...page.credentials.map(fromInventory));
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return rows;
}

async function fromVendors(session: Session): Promise<Credential[]> {
  const policy = await api<{ qwiet_orgs: string[]; octane_shared_spaces: string[] }>(
    'GET',
    '/v1/policy',
  );
  const rows: Credential[] = [];
  for (const org of policy.qwiet_orgs) {
    const answer = await api<{ response: Record<string, unknown>[] }>(
      'GET',
      `/qwiet/api/v4/orgs/${encodeURIComponent(org)}/tokens?show_expired=true`,
    );
    for (const t of answer.response)
      rows.push({
        vendor: 'qwiet',
        scope: org,
        id: s(t.id) ?? '',
        name: s(t.label) ?? '',
        ownerTeam: session.team,
        expires: s(t.expires_at),
        status:
          t.expires_at && Date.parse(String(t.expires_at)) < Date.now() ? 'expired' : 'active',
        marks: [],
      });
  }
  for (const space of policy.octane_shared_spaces) {
    const answer = await api<{ data: Record<string, unknown>[] }>(
      'GET',
      `/octane/api/shared_spaces/${encodeURIComponent(space)}/api_accesses`,
    );
    for (const k of answer.data)
      rows.push({
        vendor: 'octane',
        scope: space,
        id: s(k.id) ?? '',
        name: s(k.name) ?? s(k.client_id) ?? '',
        ownerTeam: session.team,
        created: s(k.creation_time),
        expires: s(k.expiration),
        status: k.is_valid === false ? 'revoked' : 'active',
        marks: [],
      });
  }
  return rows;
}

export async function revoke(c: Credential): Promise<void> {
  if (c.vendor === 'qwiet')
    await api(
      'DELETE',
      `/qwiet/api/v4/orgs/${encodeURIComponent(c.scope)}/tokens/${encodeURIComponent(c.id)}`,
    );
  else
    await api(
      'PUT',
      `/octane/api/shared_spaces/${encodeURIComponent(c.scope)}/api_accesses/${encodeURIComponent(c.id)}`,
      {
        is_valid: false,
      },
    );
}

const bySoonest = (a: Credential, b: Credential) =>
  (a.expires ? Date.parse(a.expires) : Infinity) - (b.expires ? Date.parse(b.expires) : Infinity);

export function CredentialsPage({ session }: { session: Session }) {
  const [rows, setRows] = useState<Credential[] | undefined>(undefined);
  const [source, setSource] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [confirming, setConfirming] = useState<string | undefined>(undefined);
  const [status, setStatus] = useState('');
  const [showInactive, setShowInactive] = useState(false);
  /** The latest load: an earlier one answered after it (a reload between two revocations) is dropped. */
  const latest = useRef(0);

  const load = async () => {
    const asked = ++latest.current;
    setError(undefined);
    try {
      const [loaded, from] = (await serves('GET', '/v1/credentials'))
        ? [
            await inventory(),
            hasRole(session, ROLES.admin, ROLES.auditor)
              ? 'Keygate’s inventory (every team)'
              : `Keygate’s inventory (team ${session.team})`,
          ]
        : [
            await fromVendors(session),
            `the vendors’ lists for team ${session.team} (the inventory API is unavailable)`,
          ];
      if (asked !== latest.current) return;
      setRows(loaded);
      setSource(from);
    } catch (e) {
      if (asked !== latest.current) return;
      setError(e);
      setRows([]);
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const doRevoke = async (c: Credential) => {
    setConfirming(undefined);
    setStatus(`Revoking ${c.name}…`);
    try {
      await revoke(c);
      setStatus(`Revoked ${c.vendor === 'qwiet' ? 'token' : 'key'} ${c.name} (${c.id}).`);
      await load();
    } catch (e) {
      setStatus('');
      setError(e);
    }
  };

  if (rows === undefined) return <p aria-busy="true">Loading…</p>;
  const now = Date.now();
  const shown = rows.filter((r) => showInactive || ACTIVE.has(r.status)).sort(bySoonest);
  const key = (c: Credential) => `${c.vendor}/${c.scope}/${c.id}`;
  return (
    <>
      <p class="meta">
        From {source}. Soonest expiry first; those expiring within 7 days are marked.
      </p>
      <ErrorNote error={error} />
      <p role="status" class="status">
        {status}
      </p>
      <div class="row">
        <input
          type="checkbox"
          id="show-inactive"
          checked={showInactive}
          onChange={(e) => setShowInactive((e.target as HTMLInputElement).checked)}
        />
        <label for="show-inactive">Show revoked and expired</label>
      </div>
      {shown.length === 0 ? (
        <p>
          No credentials. <a href="/console/issue">Issue one</a>.
        </p>
      ) : (
        <div class="scroll" role="region" aria-label="Credentials" tabIndex={0}>
          <table>
            <caption class="sr-only">Credentials, soonest expiry first</caption>
            <thead>
              <tr>
                <th scope="col">Vendor</th>
                <th scope="col">Name</th>
                <th scope="col">Scope</th>
                <th scope="col">Owner</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((c) => {
                const exp = c.expires ? Date.parse(c.expires) : NaN;
                const soon = !Number.isNaN(exp) && exp > now && exp - now < SOON_MS;
                return (
                  <tr key={key(c)} data-credential={c.id}>
                    <td>{c.vendor === 'qwiet' ? 'Qwiet token' : 'Octane key'}</td>
                    <td>
                      {c.name}
                      <div class="meta mono">{c.id}</div>
                    </td>
                    <td class="mono">{c.scope}</td>
                    <td>
                      {c.ownerTeam}
                      {c.ownerSubject && ` / ${c.ownerSubject}`}
                    </td>
                    <td>
                      {c.expires ? when(c.expires) : 'never'}
                      {soon && <span class="badge warn"> expiring soon</span>}
                    </td>
                    <td>
                      {c.status}
                      {c.marks.map((m) => (
                        <span key={m} class="badge warn">
                          {' '}
                          {m}
                        </span>
                      ))}
                    </td>
                    <td>
                      {ACTIVE.has(c.status) &&
                        (confirming === key(c) ? (
                          <span class="row">
                            <button
                              type="button"
                              class="danger"
                              autoFocus
                              onClick={() => void doRevoke(c)}
                            >
                              Confirm revoke {c.name}
                            </button>
                            <button type="button" onClick={() => setConfirming(undefined)}>
                              Cancel
                            </button>
                          </span>
                        ) : (
                          <button
                            type="button"
                            aria-label={`Revoke ${c.name}`}
                            onClick={() => setConfirming(key(c))}
                          >
                            Revoke
                          </button>
                        ))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
