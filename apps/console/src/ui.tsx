import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { ApiError, serves } from './api';

/** Plain words for the codes a caller meets most; the code itself is always shown too. */
const PLAIN: Record<string, string> = {
  POLICY_VIOLATION: 'The token policy refused this request.',
  QUOTA_EXCEEDED:
    'Your team or you have issued as many credentials as the policy allows this hour.',
  RATE_LIMITED: 'Too many requests: wait a minute and try again.',
  FORBIDDEN: 'Your roles do not allow this.',
  UNAUTHENTICATED: 'You are not signed in (or your session ended).',
  CSRF_REQUIRED: 'The request lacked this session’s anti-forgery token: reload the page.',
  VALIDATION_FAILED: 'Some fields are not valid.',
  NOT_FOUND: 'Not found.',
  PROTECTED_CREDENTIAL: 'This is Keygate’s own vendor credential: it cannot be changed here.',
  AUDIT_UNAVAILABLE: 'The audit log cannot be written, so Keygate changes nothing right now.',
  VENDOR_CIRCUIT_OPEN: 'The vendor is failing; Keygate is not calling it for a while.',
  UPSTREAM_UNREACHABLE: 'The vendor could not be reached.',
  UPSTREAM_TIMEOUT: 'The vendor did not answer in time.',
  UPSTREAM_BAD_RESPONSE: 'The vendor answered something Keygate could not use.',
  UPSTREAM_CREDENTIALS_REJECTED: 'The vendor refused Keygate’s own credential.',
};

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** An error in plain words, with the code (and each rule broken) behind it. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  if (!(error instanceof ApiError))
    return (
      <div class="error" role="alert">
        <p>Something went wrong: {error instanceof Error ? error.message : String(error)}</p>
      </div>
    );
  return (
    <div class="error" role="alert">
      <p>
        <strong>{PLAIN[error.code] ?? 'The request failed.'}</strong> {error.message}
      </p>
      {error.violations.length > 0 && (
        <ul class="findings" aria-label="Rules broken">
          {error.violations.map((v) => (
            <li key={v.rule}>
              <code>{v.rule}</code>: {v.message}
              {v.limit !== undefined && <> (limit {show(v.limit)}</>}
              {v.actual !== undefined && (
                <>
                  {v.limit !== undefined ? ', ' : ' ('}sent {show(v.actual)}
                </>
              )}
              {(v.limit !== undefined || v.actual !== undefined) && ')'}
            </li>
          ))}
        </ul>
      )}
      {error.violations.length === 0 && error.details.length > 0 && (
        <ul aria-label="Fields">
          {error.details.map((d) => (
            <li key={d}>{d}</li>
          ))}
        </ul>
      )}
      {error.status === 401 && (
        <p>
          <a href={`/auth/login?return_to=${encodeURIComponent(window.location.pathname)}`}>
            Sign in again
          </a>
        </p>
      )}
      <p class="meta">
        Code <code>{error.code}</code> (HTTP {error.status})
        {error.requestId && (
          <>
            , request <code>{error.requestId}</code>
          </>
        )}
      </p>
    </div>
  );
}

/** Renders its children only if the gateway serves the route; otherwise says it is unavailable. */
export function IfServed(props: {
  method: string;
  path: string;
  what: string;
  children: ComponentChildren;
}) {
  const [served, setServed] = useState<boolean | undefined>(undefined);
  useEffect(() => {
    void serves(props.method, props.path).then(setServed);
  }, [props.method, props.path]);
  if (served === undefined) return <p aria-busy="true">Loading…</p>;
  if (!served)
    return (
      <p class="unavailable">
        {props.what}: unavailable. This gateway does not serve{' '}
        <code>
          {props.method} {props.path}
        </code>{' '}
        yet.
      </p>
    );
  return <>{props.children}</>;
}

const cell = (v: unknown): string =>
  v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** A table of records whose shape the page does not fix (the lifecycle's lists). */
export function RecordTable(props: {
  rows: Record<string, unknown>[];
  caption: string;
  /** The fields to show (default: the first nine found). */
  columns?: string[];
}) {
  const { rows, caption } = props;
  if (rows.length === 0) return <p>None.</p>;
  const columns = props.columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))].slice(0, 9);
  return (
    <div class="scroll" role="region" aria-label={caption} tabIndex={0}>
      <table>
        <caption>{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" key={c}>
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i}>
              {columns.map((c) => (
                <td key={c}>{cell(r[c])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The list inside an answer: the answer itself, or its first array-valued field. */
export function listOf(answer: unknown): Record<string, unknown>[] {
  if (Array.isArray(answer)) return answer as Record<string, unknown>[];
  if (answer && typeof answer === 'object')
    for (const v of Object.values(answer))
      if (Array.isArray(v)) return v as Record<string, unknown>[];
  return [];
}

/** A secret shown once: a warning, a copy button, and a way to dismiss it for good. */
export function SecretOnce(props: {
  id: string;
  label: string;
  secret: string;
  onDone: () => void;
}) {
  const [copied, setCopied] = useState('');
  const box = useRef<HTMLInputElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useLayoutEffect(() => heading.current?.focus(), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied('Copied to the clipboard.');
    } catch {
      box.current?.select();
      setCopied('Selected: press Ctrl+C (or ⌘C) to copy.');
    }
  };
  return (
    <section class="secret" aria-labelledby={`${props.id}-heading`}>
      <h3 id={`${props.id}-heading`} tabIndex={-1} ref={heading}>
        {props.label}
      </h3>
      <p class="warning">
        <strong>Shown once.</strong> Keygate does not store this secret and cannot show it again:
        copy it into your secret store now.
      </p>
      <label for={`${props.id}-value`}>Secret</label>
      <div class="row">
        <input id={`${props.id}-value`} ref={box} readOnly value={props.secret} class="mono" />
        <button type="button" onClick={() => void copy()}>
          Copy
        </button>
      </div>
      <p role="status" class="meta">
        {copied}
      </p>
      <button type="button" onClick={props.onDone}>
        I have stored it: hide the secret
      </button>
    </section>
  );
}

export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="json" tabIndex={0} aria-label={label}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export const when = (iso: unknown) => {
  if (typeof iso !== 'string' || !iso) return '';
  const t = Date.parse(iso);
  return Number.isNaN(t)
    ? iso
    : new Date(t)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
};
