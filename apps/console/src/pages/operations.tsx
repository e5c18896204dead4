import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorNote, IfServed, Json, listOf, RecordTable } from '../ui';

function Listing({ path, caption }: { path: string; caption: string }) {
  const [answer, setAnswer] = useState<unknown>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    api<unknown>('GET', path).then(setAnswer, setError);
  }, [path]);
  if (error) return <ErrorNote error={error} />;
  if (answer === undefined) return <p aria-busy="true">Loading…</p>;
  return <RecordTable rows={listOf(answer)} caption={caption} />;
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
        <button type="submit">Dry run: list what would be revoked</button>
      </form>
      <ErrorNote error={error} />
      {plan !== undefined && (
        <div>
          <RecordTable rows={listOf(plan)} caption="Would be revoked" />
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
      {done !== undefined && <Json value={done} label="Offboarding result" />}
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
          <Listing path="/v1/drift" caption="Drift findings" />
        </IfServed>
      </section>
      <section aria-labelledby="notes-heading">
        <h2 id="notes-heading">Notifications</h2>
        <IfServed method="GET" path="/v1/notifications" what="Notifications">
          <Listing path="/v1/notifications" caption="Notifications and their deliveries" />
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
