import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorNote, Json, when } from '../ui';

type AuditRecord = {
  seq: number;
  time: string;
  event: string;
  phase: string;
  request_id: string;
  actor?: { subject?: string; team?: string; via?: string };
  target?: Record<string, unknown>;
  decision?: { allowed: boolean; violations: string[]; warnings: string[] };
  fingerprint?: string;
};
type Page = { records: AuditRecord[]; next_before_seq?: number };

const EVENTS = [
  'qwiet.token.issue',
  'qwiet.token.revoke',
  'octane.api_access.create',
  'octane.api_access.revoke',
  'octane.api_access.regenerate',
  'audit.read',
  'policy.loaded',
  'policy.rejected',
];
const PHASES = ['attempt', 'denied', 'succeeded', 'failed', 'compensated'];
const FIELDS = ['team', 'subject', 'credential_id', 'request_id', 'client_id'] as const;

const targetOf = (r: AuditRecord) => {
  const t = r.target ?? {};
  return [t.vendor, t.org_id ?? t.shared_space_id, t.credential_id, t.label ?? t.name]
    .filter((x) => x !== undefined && x !== '')
    .map(String)
    .join(' / ');
};

function Records({
  records,
  caption,
  onPick,
}: {
  records: AuditRecord[];
  caption: string;
  onPick: (r: AuditRecord) => void;
}) {
  if (records.length === 0) return <p>No records.</p>;
  return (
    <div class="scroll" role="region" aria-label={caption} tabIndex={0}>
      <table>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Seq</th>
            <th scope="col">Time (UTC)</th>
            <th scope="col">Event</th>
            <th scope="col">Phase</th>
            <th scope="col">Actor</th>
            <th scope="col">Target</th>
            <th scope="col">
              <span class="sr-only">Details</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {records.map((r) => (
            <tr key={r.seq}>
              <td>{r.seq}</td>
              <td>{when(r.time)}</td>
              <td>{r.event}</td>
              <td>
                {r.phase}
                {r.decision && !r.decision.allowed && ` (${r.decision.violations.join(', ')})`}
              </td>
              <td>
                {r.actor?.subject} ({r.actor?.team}){r.actor?.via && ` via ${r.actor.via}`}
              </td>
              <td class="mono">{targetOf(r)}</td>
              <td>
                <button
                  type="button"
                  aria-label={`Details of record ${r.seq}`}
                  onClick={() => onPick(r)}
                >
                  Details
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function AuditPage() {
  const [filters, setFilters] = useState<Record<string, string>>({});
  const [pages, setPages] = useState<Page[]>([]);
  const [picked, setPicked] = useState<AuditRecord | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [verify, setVerify] = useState<Record<string, unknown> | undefined>(undefined);
  const [leak, setLeak] = useState('');
  const [found, setFound] = useState<{ fingerprint: string; records: AuditRecord[] } | undefined>(
    undefined,
  );
  const [status, setStatus] = useState('');
  /** The latest search: an answer to an earlier one (the first load, a slow search) is dropped. */
  const latest = useRef(0);

  const query = (before?: number) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v.trim()) q.set(k, v.trim());
    if (before) q.set('before_seq', String(before));
    q.set('limit', '50');
    return `/v1/audit?${q.toString()}`;
  };
  const search = async (e?: Event) => {
    e?.preventDefault();
    const asked = ++latest.current;
    setError(undefined);
    setPicked(undefined);
    try {
      const page = await api<Page>('GET', query());
      if (asked !== latest.current) return;
      setPages([page]);
      setStatus(
        `${page.records.length} record(s)${page.next_before_seq ? ', more available' : ''}.`,
      );
    } catch (err) {
      if (asked === latest.current) setError(err);
    }
  };
  useEffect(() => {
    void search();
  }, []);
  const older = async () => {
    const last = pages[pages.length - 1];
    if (!last?.next_before_seq) return;
    const asked = latest.current;
    try {
      const page = await api<Page>('GET', query(last.next_before_seq));
      if (asked !== latest.current) return; // a new search has begun: these are its older records no more
      setPages([...pages, page]);
      setStatus(`${page.records.length} older record(s) loaded.`);
    } catch (err) {
      setError(err);
    }
  };
  const runVerify = async () => {
    setError(undefined);
    setVerify(undefined);
    setStatus('Verifying the chain…');
    try {
      const v = await api<Record<string, unknown>>('GET', '/v1/audit/verify');
      setVerify(v);
      setStatus(v.ok ? 'The chain verifies.' : 'The chain does NOT verify.');
    } catch (err) {
      setStatus('');
      setError(err);
    }
  };
  const lookUp = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api<{ fingerprint: string; records: AuditRecord[] }>(
        'POST',
        '/v1/audit/fingerprint',
        { secret: leak },
      );
      setLeak('');
      setFound(r);
    } catch (err) {
      setError(err);
    }
  };
  const exportAll = async () => {
    setError(undefined);
    const lines: string[] = [];
    let before: number | undefined;
    try {
      // Every page of the current filters, newest first, at most 100 pages of 50.
      for (let i = 0; i < 100; i += 1) {
        const page = await api<Page>('GET', query(before));
        for (const r of page.records) lines.push(JSON.stringify(r));
        if (!page.next_before_seq) break;
        before = page.next_before_seq;
      }
      download('keygate-audit.jsonl', lines.length ? `${lines.join('\n')}\n` : '');
      setStatus(`Exported ${lines.length} record(s) to keygate-audit.jsonl.`);
    } catch (err) {
      setError(err);
    }
  };

  const records = pages.flatMap((p) => p.records);
  const set = (k: string) => (e: Event) =>
    setFilters({ ...filters, [k]: (e.target as HTMLInputElement).value });
  return (
    <>
      <p role="status" class="status">
        {status}
      </p>
      <ErrorNote error={error} />
      <section aria-labelledby="chain-heading">
        <h2 id="chain-heading">Chain verification</h2>
        <button type="button" onClick={() => void runVerify()}>
          Verify the chain
        </button>
        {verify && (
          <div class={verify.ok ? 'ok' : 'error'} data-testid="verify-result">
            <p>
              <strong>{verify.ok ? 'Verified' : 'Broken'}</strong>: {String(verify.records)}{' '}
              record(s)
              {verify.problem ? `; problem: ${JSON.stringify(verify.problem)}` : ''}
            </p>
            <Json value={verify} label="Verification result" />
          </div>
        )}
      </section>
      <section aria-labelledby="log-heading">
        <h2 id="log-heading">Log</h2>
        <form class="filters" onSubmit={(e) => void search(e)}>
          <div>
            <label for="f-event">Event</label>
            <select id="f-event" value={filters.event ?? ''} onChange={set('event')}>
              <option value="">any</option>
              {EVENTS.map((e) => (
                <option key={e}>{e}</option>
              ))}
            </select>
          </div>
          <div>
            <label for="f-phase">Phase</label>
            <select id="f-phase" value={filters.phase ?? ''} onChange={set('phase')}>
              <option value="">any</option>
              {PHASES.map((e) => (
                <option key={e}>{e}</option>
              ))}
            </select>
          </div>
          <div>
            <label for="f-vendor">Vendor</label>
            <select id="f-vendor" value={filters.vendor ?? ''} onChange={set('vendor')}>
              <option value="">any</option>
              <option>qwiet</option>
              <option>octane</option>
            </select>
          </div>
          {FIELDS.map((f) => (
            <div key={f}>
              <label for={`f-${f}`}>{f.replace('_', ' ')}</label>
              <input id={`f-${f}`} value={filters[f] ?? ''} onInput={set(f)} />
            </div>
          ))}
          <div>
            <label for="f-from">From (UTC date)</label>
            <input id="f-from" type="date" value={filters.from ?? ''} onInput={set('from')} />
          </div>
          <div>
            <label for="f-to">Before (UTC date)</label>
            <input id="f-to" type="date" value={filters.to ?? ''} onInput={set('to')} />
          </div>
          <div class="row">
            <button type="submit">Search</button>
            <button type="button" class="secondary" onClick={() => void exportAll()}>
              Export (JSON lines)
            </button>
          </div>
        </form>
        <Records records={records} caption="Audit records, newest first" onPick={setPicked} />
        {pages[pages.length - 1]?.next_before_seq && (
          <button type="button" onClick={() => void older()}>
            Older records
          </button>
        )}
        {picked && (
          <section aria-labelledby="record-heading" class="details">
            <h3 id="record-heading">Record {picked.seq}</h3>
            <Json value={picked} label={`Record ${picked.seq}`} />
            <button type="button" onClick={() => setPicked(undefined)}>
              Close details
            </button>
          </section>
        )}
      </section>
      <section aria-labelledby="leak-heading">
        <h2 id="leak-heading">Leaked secret look-up</h2>
        <form onSubmit={(e) => void lookUp(e)}>
          <label for="leak-secret">
            Secret or token value (sent once to compute its fingerprint; never stored)
          </label>
          <input
            id="leak-secret"
            type="password"
            autoComplete="off"
            required
            value={leak}
            onInput={(e) => setLeak((e.target as HTMLInputElement).value)}
          />
          <button type="submit">Look up</button>
        </form>
        {found && (
          <>
            <p>
              Fingerprint <code>{found.fingerprint}</code>: {found.records.length} record(s).
            </p>
            <Records
              records={found.records}
              caption="Records of the leaked secret"
              onPick={setPicked}
            />
          </>
        )}
      </section>
    </>
  );
}
