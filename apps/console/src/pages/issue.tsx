import { useEffect, useState } from 'preact/hooks';
import { api, Finding, Session } from '../api';
import { ErrorNote, SecretOnce } from '../ui';

type Rules = Record<string, Record<string, Record<string, unknown>> | undefined>;
interface OwnPolicy {
  revision: string;
  team: string;
  qwiet_orgs: string[];
  octane_shared_spaces: string[];
  rules: Rules;
}
interface Role {
  id: string;
  label?: string;
  name?: string;
  role?: { id: string } | null;
  workspace?: { id: string } | null;
}

/** An Octane workspace role in words: which role, in which workspace (or the whole space). */
const workspaceRoleName = (r: Role) =>
  r.name ??
  `role ${r.role?.id ?? '?'} ${r.workspace ? `in workspace ${r.workspace.id}` : 'in the shared space'}`;

const days = (seconds: number) =>
  seconds % 86400 === 0 ? `${seconds / 86400} day(s)` : `${Math.round(seconds / 3600)} hour(s)`;
const modeOf = (rule: Record<string, unknown>) =>
  rule.mode === 'dry_run' ? ' (dry run: warning only)' : '';

/** The effective rules' patterns (label_patterns, name_patterns): every one must match. */
const patterns = (list: unknown) =>
  (Array.isArray(list) ? list : []) as { pattern: string; mode?: string }[];

/** The rules of one vendor in words: what the form must respect before it is sent. */
function limitsOf(
  rules: Rules,
  vendor: 'qwiet' | 'octane',
  roleNames: Map<string, string>,
): string[] {
  const r = rules[vendor] ?? {};
  const out: string[] = [];
  const name = (id: string) => roleNames.get(id) ?? id;
  if (vendor === 'qwiet') {
    const m = r.max_lifetime;
    if (m)
      out.push(
        `qwiet.max_lifetime: at most ${days(Number(m.max_seconds))}${m.on_exceed === 'clamp' ? ', a longer request is shortened to it' : ', a longer request is refused'}${modeOf(m)}`,
      );
    if (r.lifetime_required)
      out.push(`qwiet.lifetime_required: a lifetime must be given${modeOf(r.lifetime_required)}`);
    const allowed = r.allowed_roles?.role_ids as string[] | undefined;
    if (allowed)
      out.push(`qwiet.allowed_roles: ${allowed.map(name).join(', ')}${modeOf(r.allowed_roles!)}`);
    const denied = r.denied_roles?.role_ids as string[] | undefined;
    if (denied?.length) out.push(`qwiet.denied_roles: never ${denied.map(name).join(', ')}`);
    const types = r.allowed_token_types?.token_types as string[] | undefined;
    if (types) out.push(`qwiet.allowed_token_types: ${types.join(', ')}`);
    for (const p of patterns(r.label_patterns))
      out.push(`qwiet.label_pattern: label matches ${p.pattern}${modeOf(p)}`);
  } else {
    const m = r.max_expiration;
    if (m)
      out.push(
        `octane.max_expiration: at most ${String(m.max_days)} days ahead${m.on_exceed === 'clamp' ? ', a later date is moved to it' : ', a later date is refused'}${modeOf(m)}`,
      );
    if (r.expiration_required) out.push('octane.expiration_required: an expiration must be given');
    const ws = r.allowed_workspace_roles?.workspace_role_ids as string[] | undefined;
    if (ws) out.push(`octane.allowed_workspace_roles: ${ws.map(name).join(', ')}`);
    const all = r.roles_in_all_workspaces?.role_ids as string[] | undefined;
    if (all)
      out.push(`octane.roles_in_all_workspaces: ${all.length ? all.join(', ') : 'none allowed'}`);
    const ss = r.secret_strength;
    if (ss)
      out.push(
        `octane.secret_strength: at least ${String(ss.min_length)} characters of ${String(ss.min_classes)} classes${ss.forbid_name ? ', not containing the name' : ''}${ss.forbid_common ? ', not a common password' : ''}; leave the secret empty and Keygate generates one`,
      );
    for (const p of patterns(r.name_patterns))
      out.push(`octane.name_pattern: name matches ${p.pattern}${modeOf(p)}`);
  }
  const q = rules.quota ?? {};
  if (q.team_per_hour)
    out.push(`quota.team_per_hour: ${String(q.team_per_hour.max)} credentials per team per hour`);
  if (q.subject_per_hour)
    out.push(`quota.subject_per_hour: ${String(q.subject_per_hour.max)} per person per hour`);
  return out;
}

function Limits({ items, id }: { items: string[]; id: string }) {
  return (
    <div class="limits" id={id}>
      <h3>Your team’s limits</h3>
      {items.length === 0 ? (
        <p>No rule beyond the team’s scope.</p>
      ) : (
        <ul>
          {items.map((i) => (
            <li key={i}>{i}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Explained({
  result,
}: {
  result?: { allowed: boolean; violations: Finding[]; warnings: Finding[] };
}) {
  if (!result) return null;
  return (
    <div class={result.allowed ? 'ok' : 'error'} role="status">
      <p>
        <strong>
          {result.allowed ? 'The policy would allow this.' : 'The policy would refuse this:'}
        </strong>
      </p>
      {[...result.violations, ...result.warnings].length > 0 && (
        <ul class="findings">
          {result.violations.map((v) => (
            <li key={v.rule}>
              <code>{v.rule}</code>: {v.message}
            </li>
          ))}
          {result.warnings.map((v) => (
            <li key={`w-${v.rule}`}>
              warning <code>{v.rule}</code>: {v.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

type Explain = { allowed: boolean; violations: Finding[]; warnings: Finding[] };

/** A secret issued, to be shown once. */
interface Issued {
  label: string;
  value: string;
}

/**
 * What both issue forms do: ask the policy what it would decide (`explain`), send the request
 * (`issue`: the secret to show once), and keep the error, the explanation and the secret.
 */
function useIssueForm(explain: () => Record<string, unknown>, issue: () => Promise<Issued>) {
  const [error, setError] = useState<unknown>(undefined);
  const [explained, setExplained] = useState<Explain | undefined>(undefined);
  const [secret, setSecret] = useState<Issued | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const check = async () => {
    setError(undefined);
    try {
      setExplained(await api<Explain>('POST', '/v1/policy/explain', explain()));
    } catch (e) {
      setError(e);
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setExplained(undefined);
    setBusy(true);
    try {
      setSecret(await issue());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return { error, setError, explained, secret, setSecret, busy, check, submit };
}

/** The two buttons under an issue form. */
function FormActions(props: { busy: boolean; label: string; onCheck: () => void }) {
  return (
    <div class="row">
      <button type="submit" disabled={props.busy}>
        {props.label}
      </button>
      <button type="button" class="secondary" onClick={props.onCheck}>
        Check against the policy
      </button>
    </div>
  );
}

function QwietForm({ policy }: { policy: OwnPolicy }) {
  const [org, setOrg] = useState(policy.qwiet_orgs[0] ?? '');
  const [roles, setRoles] = useState<Role[]>([]);
  const [label, setLabel] = useState('');
  const [roleId, setRoleId] = useState('');
  const [tokenType, setTokenType] = useState('access');
  const [hours, setHours] = useState('24');
  const rules = policy.rules.qwiet ?? {};
  const allowedRoles = rules.allowed_roles?.role_ids as string[] | undefined;
  const deniedRoles = (rules.denied_roles?.role_ids as string[] | undefined) ?? [];
  const types = (rules.allowed_token_types?.token_types as string[] | undefined) ?? [
    'access',
    'integration',
  ];

  useEffect(() => {
    if (!org) return;
    api<{ response: Role[] }>('GET', `/qwiet/api/v4/orgs/${encodeURIComponent(org)}/roles`).then(
      (a) => {
        const usable = a.response.filter(
          (r) => !deniedRoles.includes(r.id) && (!allowedRoles || allowedRoles.includes(r.id)),
        );
        setRoles(usable);
        setRoleId((current) => current || usable[0]?.id || '');
      },
      setError,
    );
  }, [org]);

  const body = () => ({
    label,
    role_id: roleId,
    token_type: tokenType,
    ...(hours.trim() !== '' && { valid_for_seconds: Math.round(Number(hours) * 3600) }),
  });
  const { error, setError, explained, secret, setSecret, busy, check, submit } = useIssueForm(
    () => ({ action: 'qwiet.token.issue', org_id: org, body: body() }),
    async () => {
      const a = await api<{ response: Issued }>(
        'POST',
        `/qwiet/api/v4/orgs/${encodeURIComponent(org)}/tokens`,
        body(),
      );
      return { label: a.response.label, value: a.response.value };
    },
  );
  const names = new Map(roles.map((r) => [r.id, r.label ?? r.id]));
  if (policy.qwiet_orgs.length === 0) return <p>Your team has no Qwiet org in the policy.</p>;
  return (
    <>
      <Limits items={limitsOf(policy.rules, 'qwiet', names)} id="qwiet-limits" />
      {secret ? (
        <SecretOnce
          id="qwiet-secret"
          label={`Qwiet token “${secret.label}” issued`}
          secret={secret.value}
          onDone={() => setSecret(undefined)}
        />
      ) : (
        <form onSubmit={(e) => void submit(e)} aria-describedby="qwiet-limits">
          <label for="q-org">Organisation</label>
          <select
            id="q-org"
            value={org}
            onChange={(e) => setOrg((e.target as HTMLSelectElement).value)}
          >
            {policy.qwiet_orgs.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
          <label for="q-label">Label</label>
          <input
            id="q-label"
            required
            value={label}
            onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
          />
          <label for="q-role">Role</label>
          <select
            id="q-role"
            required
            value={roleId}
            onChange={(e) => setRoleId((e.target as HTMLSelectElement).value)}
          >
            {roles.map((r) => (
              <option key={r.id} value={r.id}>
                {r.label ?? r.id}
              </option>
            ))}
          </select>
          <label for="q-type">Token type</label>
          <select
            id="q-type"
            value={tokenType}
            onChange={(e) => setTokenType((e.target as HTMLSelectElement).value)}
          >
            {types.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
          <label for="q-hours">Lifetime in hours</label>
          <input
            id="q-hours"
            type="number"
            min="1"
            step="1"
            inputMode="numeric"
            value={hours}
            onInput={(e) => setHours((e.target as HTMLInputElement).value)}
          />
          <FormActions busy={busy} label="Issue Qwiet token" onCheck={() => void check()} />
        </form>
      )}
      <Explained result={explained} />
      <ErrorNote error={error} />
    </>
  );
}

function OctaneForm({ policy }: { policy: OwnPolicy }) {
  const [space, setSpace] = useState(policy.octane_shared_spaces[0] ?? '');
  const [wsRoles, setWsRoles] = useState<Role[]>([]);
  const [picked, setPicked] = useState<string[]>([]);
  const [name, setName] = useState('');
  const [secretIn, setSecretIn] = useState('');
  const rules = policy.rules.octane ?? {};
  const maxDays = Number(rules.max_expiration?.max_days ?? 30);
  const defaultDate = new Date(Date.now() + Math.min(maxDays, 30) * 86400_000 - 86400_000)
    .toISOString()
    .slice(0, 10);
  const [expires, setExpires] = useState(defaultDate);
  const allowed = rules.allowed_workspace_roles?.workspace_role_ids as string[] | undefined;

  useEffect(() => {
    if (!space) return;
    api<{ data: Role[] }>(
      'GET',
      `/octane/api/shared_spaces/${encodeURIComponent(space)}/workspace_roles`,
    ).then((a) => {
      const usable = a.data.filter((r) => !allowed || allowed.includes(r.id));
      setWsRoles(usable);
      setPicked((p) => (p.length ? p : usable.slice(0, 1).map((r) => r.id)));
    }, setError);
  }, [space]);

  const body = () => ({
    data: [
      {
        name,
        ...(secretIn && { client_secret: secretIn }),
        ...(expires && { expiration: `${expires}T00:00:00Z` }),
        workspace_roles: { data: picked.map((id) => ({ type: 'workspace_role', id })) },
      },
    ],
  });
  const { error, setError, explained, secret, setSecret, busy, check, submit } = useIssueForm(
    () => ({ action: 'octane.api_access.create', shared_space_id: space, body: body().data[0] }),
    async () => {
      const a = await api<{ data: { name?: string; client_id: string; client_secret: string }[] }>(
        'POST',
        `/octane/api/shared_spaces/${encodeURIComponent(space)}/api_accesses`,
        body(),
      );
      const key = a.data[0];
      setSecretIn('');
      return { label: `client id ${key.client_id}`, value: key.client_secret };
    },
  );
  const names = new Map(wsRoles.map((r) => [r.id, `${r.id} (${workspaceRoleName(r)})`]));
  if (policy.octane_shared_spaces.length === 0)
    return <p>Your team has no Octane shared space in the policy.</p>;
  return (
    <>
      <Limits items={limitsOf(policy.rules, 'octane', names)} id="octane-limits" />
      {secret ? (
        <SecretOnce
          id="octane-secret"
          label={`Octane key issued: ${secret.label}`}
          secret={secret.value}
          onDone={() => setSecret(undefined)}
        />
      ) : (
        <form onSubmit={(e) => void submit(e)} aria-describedby="octane-limits">
          <label for="o-space">Shared space</label>
          <select
            id="o-space"
            value={space}
            onChange={(e) => setSpace((e.target as HTMLSelectElement).value)}
          >
            {policy.octane_shared_spaces.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
          <label for="o-name">Key name</label>
          <input
            id="o-name"
            required
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
          <label for="o-expires">Expires on (UTC)</label>
          <input
            id="o-expires"
            type="date"
            value={expires}
            onInput={(e) => setExpires((e.target as HTMLInputElement).value)}
          />
          <fieldset>
            <legend>Workspace roles</legend>
            {wsRoles.map((r) => (
              <div class="row" key={r.id}>
                <input
                  type="checkbox"
                  id={`o-ws-${r.id}`}
                  checked={picked.includes(r.id)}
                  onChange={(e) =>
                    setPicked((p) =>
                      (e.target as HTMLInputElement).checked
                        ? [...p, r.id]
                        : p.filter((x) => x !== r.id),
                    )
                  }
                />
                <label for={`o-ws-${r.id}`}>
                  {r.id}: {workspaceRoleName(r)}
                </label>
              </div>
            ))}
          </fieldset>
          <label for="o-secret">
            Client secret (optional: empty and Keygate generates a strong one)
          </label>
          <input
            id="o-secret"
            type="password"
            autoComplete="new-password"
            value={secretIn}
            onInput={(e) => setSecretIn((e.target as HTMLInputElement).value)}
          />
          <FormActions busy={busy} label="Issue Octane key" onCheck={() => void check()} />
        </form>
      )}
      <Explained result={explained} />
      <ErrorNote error={error} />
    </>
  );
}

export function IssuePage({ session }: { session: Session }) {
  const [policy, setPolicy] = useState<OwnPolicy | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    api<OwnPolicy>('GET', '/v1/policy').then(setPolicy, setError);
  }, []);
  if (error) return <ErrorNote error={error} />;
  if (!policy) return <p aria-busy="true">Loading…</p>;
  return (
    <>
      <p class="meta">
        For team {session.team}, under policy revision <code>{policy.revision.slice(0, 19)}</code>.
      </p>
      <div class="columns">
        <section aria-labelledby="qwiet-heading">
          <h2 id="qwiet-heading">Qwiet API token</h2>
          <QwietForm policy={policy} />
        </section>
        <section aria-labelledby="octane-heading">
          <h2 id="octane-heading">Octane API access key</h2>
          <OctaneForm policy={policy} />
        </section>
      </div>
    </>
  );
}
