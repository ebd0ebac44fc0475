import { useMemo, useRef, useState } from 'preact/hooks';
import { ago, duration } from '../shared/format.js';
import { StatusBadge } from '../shared/status-badge.js';
import type { RunList, RunSummary, Whoami } from '../shared/types.js';
import { conditional } from './api.js';
import { href, useNow, usePolling } from './hooks.js';

const STATUSES = ['running', 'exited', 'timed_out', 'oom_killed', 'killed', 'failed'];

/**
 * Runs, newest first, refreshed every 2 s by polling GET /v1/runs with its ETag: an unchanged list is a
 * 304 (no body, no query on the server). Polling rather than SSE: nothing runs on the server between
 * polls, no connection is held open per viewer, and a hidden tab stops asking.
 */
export function RunsPage({ me, query }: { me: Whoami; query: URLSearchParams }) {
  const status = query.get('status') ?? '';
  const profile = query.get('profile') ?? '';
  const owner = query.get('owner') ?? '';
  const path = `/v1/runs?${new URLSearchParams(Object.entries({ status, profile, owner }).filter(([, v]) => v)).toString()}`;
  const [list, setList] = useState<RunList | null>(null);
  const [error, setError] = useState<string | null>(null);
  const current = useRef(path);
  current.current = path;
  const fetchList = useMemo(() => conditional<RunList>(() => current.current), []);
  usePolling(
    async () => {
      const next = await fetchList();
      if (next) setList(next);
      setError(null);
    },
    2000,
    [path],
    (err) => setError((err as Error).message),
  );
  const runs = list?.runs ?? [];
  const now = useNow(true);
  const showOwner = me.admin;
  const showEngine = runs.some((r) => r.engine !== undefined);
  return (
    <section>
      <RunFilters me={me} list={list} status={status} profile={profile} owner={owner} />
      {error ? <p class="error">{error}</p> : null}
      {list && runs.length === 0 ? <p class="muted">No runs{status || profile || owner ? ' match these filters' : ' yet'}.</p> : null}
      {runs.length ? (
        <table class="runs responsive">
          <thead>
            <tr>
              <th>Status</th>
              <th>Run</th>
              <th>Command</th>
              <th>Exit</th>
              <th>Duration</th>
              <th>Profile</th>
              {showEngine ? <th>Engine</th> : null}
              {showOwner ? <th>Owner</th> : null}
              <th>Started</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <RunRow run={r} now={now} showOwner={showOwner} showEngine={showEngine} key={r.run_id} />
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function RunFilters({ me, list, status, profile, owner }: { me: Whoami; list: RunList | null; status: string; profile: string; owner: string }) {
  const setFilter = (key: string, value: string) => {
    location.hash = href('runs', { status, profile, owner, [key]: value });
  };
  const select = (name: string, label: string, value: string, any: string, options: string[]) => (
    <label>
      {label}
      <select name={name} value={value} onChange={(e) => setFilter(name, e.currentTarget.value)}>
        <option value="">{any}</option>
        {options.map((o) => (
          <option value={o}>{o}</option>
        ))}
      </select>
    </label>
  );
  return (
    <div class="toolbar">
      <h2>Runs</h2>
      {select('status', 'Status', status, 'any', STATUSES)}
      {select('profile', 'Profile', profile, 'any', list?.facets.profiles ?? (profile ? [profile] : []))}
      {me.admin ? select('owner', 'Owner', owner, 'everyone', list?.facets.owners ?? (owner ? [owner] : [])) : null}
      <span class="muted live-dot" title="Refreshed every 2 s">
        live
      </span>
    </div>
  );
}

function RunRow({ run: r, now, showOwner, showEngine }: { run: RunSummary; now: number; showOwner: boolean; showEngine: boolean }) {
  const elapsed = r.status === 'running' ? now - new Date(r.started_at).getTime() : r.duration_ms;
  return (
    <tr data-run-id={r.run_id} data-status={r.status} data-owner={r.owner}>
      <td data-label="Status">
        <StatusBadge status={r.status} exitCode={r.exit_code} />
      </td>
      <td data-label="Run">
        <a href={`#/runs/${encodeURIComponent(r.run_id)}`}>
          <code>{r.run_id}</code>
        </a>
        {r.kind === 'process' ? <span class="muted"> process</span> : null}
      </td>
      <td data-label="Command" class="summary" title={r.summary}>
        {r.summary}
      </td>
      <td data-label="Exit">{r.exit_code ?? '–'}</td>
      <td data-label="Duration">{duration(elapsed)}</td>
      <td data-label="Profile">{r.profile}</td>
      {showEngine ? <td data-label="Engine">{r.engine ?? '–'}</td> : null}
      {showOwner ? <td data-label="Owner">{r.owner}</td> : null}
      <td data-label="Started" title={r.started_at}>
        {ago(r.started_at, now)}
      </td>
    </tr>
  );
}
