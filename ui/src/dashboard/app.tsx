import { useEffect, useState } from 'preact/hooks';
import type { Whoami } from '../shared/types.js';
import { AuthError, getJson, request, tokenStore, whenSignedOut } from './api.js';
import { useRoute } from './hooks.js';
import { RunPage } from './run-page.js';
import { RunsPage } from './runs-page.js';
import { SignIn } from './sign-in.js';
import { SystemPage } from './system-page.js';
import { WorkspacePage, WorkspacesPage } from './workspaces-page.js';

type Session = { state: 'checking' } | { state: 'signed-out'; message?: string } | { state: 'signed-in'; me: Whoami };

/** The dashboard: sign-in (unless the server has no tokens), then the page of the current hash route. */
export function App() {
  const [session, setSession] = useState<Session>({ state: 'checking' });
  const route = useRoute();

  useEffect(() => {
    whenSignedOut(() => {
      tokenStore.clear();
      setSession({ state: 'signed-out', message: 'The server refused the token (it may have been revoked). Sign in again.' });
    });
    // With a token from earlier in this tab, or none: a server without tokens answers on loopback.
    const had = tokenStore.get() !== null;
    request('/v1/whoami', { token: tokenStore.get() })
      .then(async (res) => setSession({ state: 'signed-in', me: (await res.json()) as Whoami }))
      .catch((err: unknown) => {
        if (had) tokenStore.clear();
        setSession({ state: 'signed-out', ...(had && err instanceof AuthError ? { message: 'The saved token was refused. Sign in again.' } : err instanceof AuthError ? {} : { message: String(err) }) });
      });
  }, []);

  if (session.state === 'checking') return <p class="loading">Connecting…</p>;
  if (session.state === 'signed-out') return <SignIn message={session.message} onSignedIn={(me) => setSession({ state: 'signed-in', me })} />;
  const { me } = session;
  const signOut = () => {
    tokenStore.clear();
    setSession({ state: 'signed-out' });
  };
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/runs">Capsule</a>
        <nav>
          <a href="#/runs" class={route.page === 'runs' || route.page === 'run' ? 'active' : ''}>Runs</a>
          <a href="#/workspaces" class={route.page.startsWith('workspace') ? 'active' : ''}>Workspaces</a>
          <a href="#/system" class={route.page === 'system' ? 'active' : ''}>System</a>
        </nav>
        <span class="who" data-owner={me.owner}>
          {me.owner}
          {me.admin ? <span class="badge badge-admin">admin</span> : null}
          {me.auth === 'bearer' ? (
            <button type="button" class="link" onClick={signOut}>
              Sign out
            </button>
          ) : (
            <span class="muted" title="The server has no tokens: loopback only, no sign-in">no sign-in</span>
          )}
        </span>
      </header>
      <main>
        {route.page === 'runs' ? <RunsPage me={me} query={route.query} /> : null}
        {route.page === 'run' ? <RunPage me={me} runId={route.id!} /> : null}
        {route.page === 'workspaces' ? <WorkspacesPage /> : null}
        {route.page === 'workspace' ? <WorkspacePage id={route.id!} path={route.query.get('path') ?? ''} /> : null}
        {route.page === 'system' ? <SystemPage me={me} /> : null}
      </main>
    </div>
  );
}

/** A small helper for pages: load JSON once (and again when `deps` change). */
export function useJson<T>(path: string | null, deps: unknown[] = [path]): { data: T | null; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    getJson<T>(path)
      .then((d) => live && (setData(d), setError(null)))
      .catch((err: unknown) => live && setError((err as Error).message));
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}
