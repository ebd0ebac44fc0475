import { useState } from 'preact/hooks';
import type { Whoami } from '../shared/types.js';
import { AuthError, request, tokenStore } from './api.js';

/** Asks for a bearer token, checks it against GET /v1/whoami, keeps it in sessionStorage. */
export function SignIn({ message, onSignedIn }: { message?: string | undefined; onSignedIn: (me: Whoami) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const value = token.trim();
    if (!value) return setError('Enter a token.');
    setBusy(true);
    setError(null);
    try {
      const me = (await (await request('/v1/whoami', { token: value })).json()) as Whoami;
      tokenStore.set(value);
      onSignedIn(me);
    } catch (err) {
      setError(err instanceof AuthError ? 'That token was refused (HTTP 401). Check it and try again.' : `Could not reach the server: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="sign-in">
      <form onSubmit={submit} aria-label="Sign in">
        <h1>Capsule</h1>
        <p>Sign in with a bearer token (one of <code>CAPSULE_TOKENS</code>, or made with <code>capsule new-token</code>). It is kept in this tab only.</p>
        {message ? <p class="note">{message}</p> : null}
        <label>
          Token
          <input type="password" name="token" autocomplete="off" value={token} onInput={(e) => setToken(e.currentTarget.value)} autofocus />
        </label>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </div>
  );
}
