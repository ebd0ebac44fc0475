const TOKEN_KEY = 'capsule.token';

/** The token lives in sessionStorage (this tab only, gone when it closes), never in a cookie: no CSRF surface. */
export const tokenStore = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The server refused the token (or asked for one): the app goes back to the sign-in form. */
export class AuthError extends Error {}

/** A JSON error from the API, with its stable code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let onAuthError: (() => void) | null = null;
export function whenSignedOut(fn: () => void): void {
  onAuthError = fn;
}

export function authHeaders(token = tokenStore.get()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** fetch against the API with the stored token; 401 signs out, other errors throw ApiError with the server's message. */
export async function request(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const { token, headers, ...rest } = init;
  const res = await fetch(path, { ...rest, cache: 'no-store', headers: { ...authHeaders(token === undefined ? tokenStore.get() : token), ...(headers as Record<string, string> | undefined) } });
  if (res.status === 401) {
    if (token === undefined) onAuthError?.();
    throw new AuthError('the server refused the token (HTTP 401)');
  }
  if (!res.ok && res.status !== 304) {
    let code = 'http_error';
    let message = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      code = body.error?.code ?? code;
      message = body.error?.message ?? message;
    } catch {
      // not JSON: keep the status
    }
    throw new ApiError(res.status, code, message);
  }
  return res;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

/**
 * A poller for a JSON route that answers with an ETag: repeats `If-None-Match`, so an unchanged
 * answer is a 304 with no body (and, on the server, no query). Returns null when unchanged.
 */
export function conditional<T>(path: () => string) {
  let etag: string | null = null;
  let last = '';
  return async (): Promise<T | null> => {
    const url = path();
    if (url !== last) etag = null;
    last = url;
    const res = await request(url, etag ? { headers: { 'if-none-match': etag } } : {});
    if (res.status === 304) return null;
    etag = res.headers.get('etag');
    return (await res.json()) as T;
  };
}

/** Download a route's body as a file (the token cannot go in a plain link). */
export async function download(path: string, filename: string): Promise<void> {
  const blob = await (await request(path)).blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
