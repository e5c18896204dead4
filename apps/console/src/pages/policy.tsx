import { useEffect, useState } from 'preact/hooks';
import { api, Finding, hasRole, ROLES, Session } from '../api';
import { ErrorNote, Json, when } from '../ui';

interface PolicyView {
  revision: string;
  loaded_at: string;
  team: string;
  qwiet_orgs: string[];
  octane_shared_spaces: string[];
  rules: Record<string, unknown>;
  global_rules: Record<string, unknown>;
  file?: string;
  teams?: Record<
    string,
    { qwiet_orgs: string[]; octane_shared_spaces: string[]; rules: Record<string, unknown> }
  >;
  other_teams?: { rules: Record<string, unknown> };
  last_rejected?: Record<string, unknown>;
}

interface Explanation {
  allowed: boolean;
  violations: Finding[];
  warnings: Finding[];
  effective?: unknown;
  evaluated?: string[];
  revision: string;
}

const ACTIONS = [
  'qwiet.token.issue',
  'qwiet.token.revoke',
  'octane.api_access.create',
  'octane.api_access.revoke',
  'octane.api_access.regenerate',
  'qwiet.read',
  'octane.read',
];

/** Rules as a list: `vendor.rule` and its settings. */
function RuleList({ rules, label }: { rules: Record<string, unknown>; label: string }) {
  const items = Object.entries(rules).flatMap(([group, set]) =>
    set && typeof set === 'object'
      ? Object.entries(set as Record<string, unknown>).map(
          ([name, v]) => [`${group}.${name}`, JSON.stringify(v)] as const,
        )
      : [],
  );
  if (items.length === 0) return <p>No rules.</p>;
  return (
    <dl class="rules" aria-label={label}>
      {items.map(([k, v]) => (
        <div key={k}>
          <dt>
            <code>{k}</code>
          </dt>
          <dd class="mono">{v}</dd>
        </div>
      ))}
    </dl>
  );
}

function WhatIf({ session, policy }: { session: Session; policy: PolicyView }) {
  const wide = hasRole(session, ROLES.security, ROLES.admin);
  const [action, setAction] = useState(ACTIONS[0]);
  const [team, setTeam] = useState('');
  const [scope, setScope] = useState(policy.qwiet_orgs[0] ?? '');
  const [body, setBody] = useState(
    '{"label": "ci-build", "role_id": "66ad5168-41be-4b6c-9ac5-a30b02229c35", "token_type": "access", "valid_for_seconds": 3600}',
  );
  const [result, setResult] = useState<Explanation | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const qwiet = action.startsWith('qwiet');
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setResult(undefined);
    let parsed: unknown;
    try {
      parsed = body.trim() ? JSON.parse(body) : undefined;
    } catch {
      setError(new Error('the body is not valid JSON'));
      return;
    }
    try {
      setResult(
        await api<Explanation>('POST', '/v1/policy/explain', {
          action,
          ...(team && { team }),
          ...(scope && (qwiet ? { org_id: scope } : { shared_space_id: scope })),
          ...(parsed !== undefined && { body: parsed }),
        }),
      );
    } catch (err) {
      setError(err);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)}>
      <label for="x-action">Action</label>
      <select
        id="x-action"
        value={action}
        onChange={(e) => setAction((e.target as HTMLSelectElement).value)}
      >
        {ACTIONS.map((a) => (
          <option key={a}>{a}</option>
        ))}
      </select>
      {wide && (
        <>
          <label for="x-team">Team (empty: yours)</label>
          <input
            id="x-team"
            value={team}
            onInput={(e) => setTeam((e.target as HTMLInputElement).value)}
          />
        </>
      )}
      <label for="x-scope">{qwiet ? 'Qwiet org id' : 'Octane shared space id'}</label>
      <input
        id="x-scope"
        value={scope}
        onInput={(e) => setScope((e.target as HTMLInputElement).value)}
      />
      <label for="x-body">Request body (JSON, as the real route takes it)</label>
      <textarea
        id="x-body"
        rows={4}
        value={body}
        onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)}
      />
      <button type="submit">Explain</button>
      <ErrorNote error={error} />
      {result && (
        <div class={result.allowed ? 'ok' : 'error'} role="status">
          <p>
            <strong>{result.allowed ? 'Allowed' : 'Refused'}</strong> under revision{' '}
            <code>{result.revision.slice(0, 19)}</code>
          </p>
          <ul class="findings">
            {result.violations.map((v) => (
              <li key={v.rule}>
                violation <code>{v.rule}</code>: {v.message}
              </li>
            ))}
            {result.warnings.map((v) => (
              <li key={`w-${v.rule}`}>
                warning <code>{v.rule}</code>: {v.message}
              </li>
            ))}
            {result.evaluated && <li>Rules evaluated: {result.evaluated.join(', ')}</li>}
          </ul>
        </div>
      )}
    </form>
  );
}

export function PolicyPage({ session }: { session: Session }) {
  const [policy, setPolicy] = useState<PolicyView | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    api<PolicyView>('GET', '/v1/policy').then(setPolicy, setError);
  }, []);
  if (error) return <ErrorNote error={error} />;
  if (!policy) return <p aria-busy="true">Loading…</p>;
  return (
    <>
      <dl class="facts">
        <div>
          <dt>Revision</dt>
          <dd class="mono">{policy.revision}</dd>
        </div>
        <div>
          <dt>Loaded at</dt>
          <dd>{when(policy.loaded_at)}</dd>
        </div>
        {policy.file && (
          <div>
            <dt>File</dt>
            <dd class="mono">{policy.file}</dd>
          </div>
        )}
        <div>
          <dt>Last rejected reload</dt>
          <dd>
            {policy.last_rejected ? (
              <Json value={policy.last_rejected} label="Last rejected reload" />
            ) : hasRole(session, ROLES.security, ROLES.admin) ? (
              'none since start-up'
            ) : (
              'shown to security and admins'
            )}
          </dd>
        </div>
      </dl>
      <section aria-labelledby="own-heading">
        <h2 id="own-heading">Team {policy.team}</h2>
        <p>
          Qwiet orgs: <span class="mono">{policy.qwiet_orgs.join(', ') || 'none'}</span>; Octane
          shared spaces:{' '}
          <span class="mono">{policy.octane_shared_spaces.join(', ') || 'none'}</span>
        </p>
        <h3>Effective rules (global caps and your team’s tightenings)</h3>
        <RuleList rules={policy.rules} label={`Rules of team ${policy.team}`} />
      </section>
      {policy.teams && (
        <section aria-labelledby="teams-heading">
          <h2 id="teams-heading">Every team</h2>
          {Object.entries(policy.teams)
            .filter(([name]) => name !== policy.team)
            .map(([name, t]) => (
              <details key={name}>
                <summary>
                  Team {name} ({t.qwiet_orgs.length} org(s), {t.octane_shared_spaces.length}{' '}
                  space(s))
                </summary>
                <RuleList rules={t.rules} label={`Rules of team ${name}`} />
              </details>
            ))}
          {policy.other_teams && (
            <details>
              <summary>Teams the file does not name</summary>
              <RuleList rules={policy.other_teams.rules} label="Rules of unnamed teams" />
            </details>
          )}
        </section>
      )}
      <section aria-labelledby="whatif-heading">
        <h2 id="whatif-heading">What if: explain a request</h2>
        <p class="meta">A dry run: nothing is sent to a vendor.</p>
        <WhatIf session={session} policy={policy} />
      </section>
    </>
  );
}
