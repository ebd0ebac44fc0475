import { useEffect, useRef, useState } from 'preact/hooks';

export interface Route {
  page: 'runs' | 'run' | 'workspaces' | 'workspace' | 'system';
  id?: string;
  query: URLSearchParams;
}

/** Hash routes: #/runs?status=…, #/runs/<id>, #/workspaces, #/workspaces/<id>?path=…, #/system. */
export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#\/?/, '').split('?');
  const query = new URLSearchParams(search);
  const [section, id] = path.split('/').map(decodeURIComponent);
  if (section === 'runs' && id) return { page: 'run', id, query };
  if (section === 'workspaces' && id) return { page: 'workspace', id, query };
  if (section === 'workspaces') return { page: 'workspaces', query };
  if (section === 'system') return { page: 'system', query };
  return { page: 'runs', query };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(page: string, query?: Record<string, string | undefined>): string {
  const q = new URLSearchParams(Object.entries(query ?? {}).filter((e): e is [string, string] => Boolean(e[1])));
  const s = q.toString();
  return `#/${page}${s ? `?${s}` : ''}`;
}

/**
 * Call `tick` now and every `ms` while the tab is visible (a hidden tab polls nothing); `tick`
 * returns false to stop. Errors are handed to `onError` and polling goes on.
 */
export function usePolling(tick: () => Promise<boolean | void>, ms: number, deps: unknown[], onError?: (err: unknown) => void): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let running = false;
    const run = async () => {
      if (stopped || running || document.hidden) return;
      running = true;
      try {
        if ((await latest.current()) === false) stopped = true;
      } catch (err) {
        onError?.(err);
      } finally {
        running = false;
      }
      if (!stopped) timer = setTimeout(run, ms);
    };
    const visible = () => {
      if (!document.hidden) {
        clearTimeout(timer);
        void run();
      }
    };
    document.addEventListener('visibilitychange', visible);
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', visible);
    };
  }, deps);
}

/** The current time, refreshed every second while `on` (running durations tick without a server call). */
export function useNow(on: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [on]);
  return now;
}
