import { render } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { hasRole, loadSession, logout, ROLES, Session } from './api';
import { ErrorNote } from './ui';
import { AuditPage } from './pages/audit';
import { CredentialsPage } from './pages/credentials';
import { IssuePage } from './pages/issue';
import { OperationsPage } from './pages/operations';
import { PolicyPage } from './pages/policy';

const BASE = '/console';

interface Page {
  path: string;
  title: string;
  /** Roles that open it (none: everyone signed in). */
  roles?: string[];
  render: (s: Session) => preact.JSX.Element;
}

const PAGES: Page[] = [
  { path: '/', title: 'My credentials', render: (s) => <CredentialsPage session={s} /> },
  { path: '/issue', title: 'Issue', render: (s) => <IssuePage session={s} /> },
  {
    path: '/audit',
    title: 'Audit',
    roles: [ROLES.auditor, ROLES.admin],
    render: () => <AuditPage />,
  },
  { path: '/policy', title: 'Policy', render: (s) => <PolicyPage session={s} /> },
  {
    path: '/operations',
    title: 'Operations',
    roles: [ROLES.admin],
    render: () => <OperationsPage />,
  },
];

const here = () => {
  const p = window.location.pathname.replace(/\/+$/, '');
  return p.startsWith(BASE) ? p.slice(BASE.length) || '/' : '/';
};

/** Client-side navigation: links under /console/ change the page without a reload. */
function useRoute(): string {
  const [route, setRoute] = useState(here());
  useEffect(() => {
    const onPop = () => setRoute(here());
    const onClick = (e: MouseEvent) => {
      if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey)
        return;
      const a = (e.target as Element).closest?.('a');
      if (!a || a.target || a.hasAttribute('download')) return;
      const url = new URL(a.href, window.location.href);
      if (url.origin !== window.location.origin || !url.pathname.startsWith(`${BASE}/`)) return;
      // A link within the page (the skip link's #main) is the browser's to follow.
      if (url.hash && url.pathname === window.location.pathname) return;
      e.preventDefault();
      window.history.pushState(null, '', url.pathname + url.search);
      setRoute(here());
    };
    window.addEventListener('popstate', onPop);
    document.addEventListener('click', onClick);
    return () => {
      window.removeEventListener('popstate', onPop);
      document.removeEventListener('click', onClick);
    };
  }, []);
  return route;
}

function SignIn() {
  return (
    <main id="main" class="signin">
      <h1>Keygate console</h1>
      <p>Issue and revoke Qwiet tokens and Octane keys, read the policy and the audit log.</p>
      <p>
        <a
          class="button"
          href={`/auth/login?return_to=${encodeURIComponent(window.location.pathname)}`}
        >
          Sign in with the company identity provider
        </a>
      </p>
    </main>
  );
}

function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const main = useRef<HTMLElement>(null);
  /** The route last shown signed in: the focus moves only when it changes. */
  const shown = useRef<string | undefined>(undefined);

  useEffect(() => {
    loadSession().then(setSession, (e: unknown) => {
      setError(e);
      setSession(null);
    });
  }, []);

  const page = PAGES.find((p) => p.path === route);
  const title = page?.title ?? 'Not found';
  // A layout effect: the focus moves in the same commit that shows the new heading, so there is
  // no moment where the new page is on screen and the focus still on the old link.
  useLayoutEffect(() => {
    document.title = `${title} · Keygate console`;
    // Focus moves to the new page's heading (screen readers announce it) when the page changes,
    // never on the first load (the skip link stays the first stop of the Tab key).
    if (!session) return;
    if (shown.current !== undefined && shown.current !== route)
      main.current?.querySelector('h1')?.focus();
    shown.current = route;
  }, [route, session, title]);

  if (session === undefined) return <p aria-busy="true">Loading…</p>;
  if (session === null)
    return (
      <>
        <ErrorNote error={error} />
        <SignIn />
      </>
    );

  const allowed = (p: Page) => !p.roles || hasRole(session, ...p.roles);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Keygate</span>
        <nav aria-label="Console">
          <ul>
            {PAGES.filter(allowed).map((p) => (
              <li key={p.path}>
                <a
                  href={`${BASE}${p.path === '/' ? '/' : p.path}`}
                  aria-current={p.path === route ? 'page' : undefined}
                >
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span>
            <span class="sr-only">Signed in as </span>
            {session.subject} ({session.team}
            {session.roles.length > 0 && `; ${session.roles.join(', ')}`})
          </span>
          <button type="button" onClick={() => void logout().catch(setError)}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <ErrorNote error={error} />
        <h1 tabIndex={-1}>{title}</h1>
        {!page ? (
          <p>
            There is no page at this address. <a href={`${BASE}/`}>Go to My credentials</a>.
          </p>
        ) : !allowed(page) ? (
          <p class="error" role="alert">
            This page is for {page.roles?.join(' or ')} only; you are signed in without that role.
          </p>
        ) : (
          page.render(session)
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
