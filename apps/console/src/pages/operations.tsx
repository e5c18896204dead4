import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorNote, IfServed, listOf, RecordTable, when } from '../ui';

function Listing(props: { path: string; caption: string; columns?: string[] }) {
  const [answer, setAnswer] = useState<unknown>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    api<unknown>('GET', props.path).then(setAnswer, setError);
  }, [props.path]);
  if (error) return <ErrorNote error={error} />;
  if (answer === undefined) return <p aria-busy="true">Loading…</p>;
  return <RecordTable rows={listOf(answer)} caption={props.caption} columns={props.columns} />;
}

interface DriftPass {
  seq: number;
  time: string;
  pass: { totals?: Record<string, unknown>; errors?: unknown[] } & Record<string, unknown>;
  findings: { seq: number; event: string; target?: Record<string, unknown> }[];
}

/** GET /v1/drift: each pass with what it found; an admin can run one now (POST /v1/reconcile). */
function Drift() {
  const [passes, setPasses] = useState<DriftPass[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [status, setStatus] = useState('');
  const load = () =>
    api<{ passes: DriftPass[] }>('GET', '/v1/drift?limit=10').then(
      (a) => setPasses(a.passes),
      setError,
    );
  useEffect(() => {
    void load();
  }, []);
  const runNow = async () => {
    setError(undefined);
    setStatus('Reconciling…');
    try {
      await api('POST', '/v1/reconcile');
      setStatus('Pass done.');
      await load();
    } catch (e) {
      setStatus('');
      setError(e);
    }
  };
  return (
    <>
      <button type="button" onClick={() => void runNow()}>
        Run a reconciliation pass now
      </button>
      <p role="status" class="status">
        {status}
      </p>
      <ErrorNote error={error} />
      {passes === undefined ? (
        !error && <p aria-busy="true">Loading…</p>
      ) : passes.length === 0 ? (
        <p>No pass yet.</p>
      ) : (
        <RecordTable
          caption="Reconciliation passes, newest first"
          rows={passes.map((p) => ({
            time: when(p.time),
            totals: p.pass.totals,
            errors: p.pass.errors?.length ?? 0,
            findings:
              p.findings
                .map(
                  (f) =>
                    `${f.event} ${String(f.target?.vendor ?? '')} ${String(f.target?.credential_id ?? '')}`,
                )
                .join('; ') || 'none',
          }))}
        />
      )}
    </>
  );
}

function Offboarding() {
  const [by, setBy] = useState<'subject' | 'team'>('subject');
  const [who, setWho] = useState('');
  const [vendor, setVendor] = useState('');
  const [plan, setPlan] = useState<unknown>(undefined);
  const [done, setDone] = useState<unknown>(undefined);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const body = (dryRun: boolean) => ({
    [by]: who.trim(),
    ...(vendor && { vendor }),
    dry_run: dryRun,
  });
  const dryRun = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setDone(undefined);
    setConfirming(false);
    try {
      setPlan(await api<unknown>('POST', '/v1/credentials/revoke', body(true)));
    } catch (err) {
      setError(err);
    }
  };
  const run = async () => {
    setConfirming(false);
    setError(undefined);
    try {
      setDone(await api<unknown>('POST', '/v1/credentials/revoke', body(false)));
      setPlan(undefined);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <form onSubmit={(e) => void dryRun(e)}>
        <fieldset>
          <legend>Whose credentials</legend>
          <div class="row">
            <input
              type="radio"
              id="ob-subject"
              name="ob-by"
              checked={by === 'subject'}
              onChange={() => setBy('subject')}
            />
            <label for="ob-subject">A person (subject)</label>
            <input
              type="radio"
              id="ob-team"
              name="ob-by"
              checked={by === 'team'}
              onChange={() => setBy('team')}
            />
            <label for="ob-team">A team</label>
          </div>
        </fieldset>
        <label for="ob-who">{by === 'subject' ? 'Subject' : 'Team'}</label>
        <input
          id="ob-who"
          required
          value={who}
          onInput={(e) => setWho((e.target as HTMLInputElement).value)}
        />
        <label for="ob-vendor">Vendor</label>
        <select
          id="ob-vendor"
          value={vendor}
          onChange={(e) => setVendor((e.target as HTMLSelectElement).value)}
        >
          <option value="">both</option>
          <option value="qwiet">qwiet</option>
          <option value="octane">octane</option>
        </select>
        <div>
          <button type="submit">Dry run: list what would be revoked</button>
        </div>
      </form>
      <ErrorNote error={error} />
      {plan !== undefined && (
        <div>
          <RecordTable
            rows={listOf(plan)}
            caption="Would be revoked"
            columns={[
              'vendor',
              'scope',
              'credential_id',
              'name',
              'owner_team',
              'subject',
              'status',
            ]}
          />
          {listOf(plan).length > 0 &&
            (confirming ? (
              <div class="row">
                <button type="button" class="danger" autoFocus onClick={() => void run()}>
                  Confirm: revoke all of them
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  Cancel
                </button>
              </div>
            ) : (
              <button type="button" class="danger" onClick={() => setConfirming(true)}>
                Revoke these
              </button>
            ))}
        </div>
      )}
      {done !== undefined && (
        <div role="status">
          <p>
            Found {String((done as Record<string, unknown>).found)}, revoked{' '}
            {String((done as Record<string, unknown>).revoked)}, failed{' '}
            {String((done as Record<string, unknown>).failed)}.
          </p>
          <RecordTable
            rows={listOf(done)}
            caption="Offboarding result"
            columns={['vendor', 'scope', 'credential_id', 'name', 'outcome', 'status', 'error']}
          />
        </div>
      )}
    </>
  );
}

export function OperationsPage() {
  return (
    <>
      <section aria-labelledby="drift-heading">
        <h2 id="drift-heading">Drift</h2>
        <p class="meta">
          What the last reconciliation passes found at the vendors against the inventory.
        </p>
        <IfServed method="GET" path="/v1/drift" what="Drift">
          <Drift />
        </IfServed>
      </section>
      <section aria-labelledby="notes-heading">
        <h2 id="notes-heading">Notifications</h2>
        <IfServed method="GET" path="/v1/notifications" what="Notifications">
          <Listing
            path="/v1/notifications"
            caption="Notification deliveries, newest first"
            columns={[
              'event',
              'credential',
              'target',
              'status',
              'attempts',
              'created_at',
              'last_status',
              'last_error',
              'delivered_at',
            ]}
          />
        </IfServed>
      </section>
      <section aria-labelledby="off-heading">
        <h2 id="off-heading">Offboarding</h2>
        <IfServed method="POST" path="/v1/credentials/revoke" what="Offboarding">
          <Offboarding />
        </IfServed>
      </section>
    </>
  );
}
