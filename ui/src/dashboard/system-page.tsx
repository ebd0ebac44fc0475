import { useState } from 'preact/hooks';
import { bytes } from '../shared/format.js';
import type { SystemSummary, Whoami } from '../shared/types.js';
import { getJson } from './api.js';
import { usePolling } from './hooks.js';

/** Engines, warm pools, sessions, runs per minute and errors, refreshed every 5 s while visible. */
export function SystemPage({ me }: { me: Whoami }) {
  const [s, setS] = useState<SystemSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  usePolling(async () => setS(await getJson<SystemSummary>('/v1/system')), 5000, [], (err) => setError((err as Error).message));
  if (!s) return error ? <p class="error">{error}</p> : <p class="loading">Loading…</p>;
  const scope = s.scope === 'all' ? 'all owners' : `yours (${me.owner})`;
  return (
    <section class="system">
      <div class="toolbar">
        <h2>System</h2>
        <span class="muted">
          Capsule {s.capsule_version} · {s.instance_id}
        </span>
      </div>
      {error ? <p class="error">{error}</p> : null}
      <div class="cards">
        <Engines s={s} />
        <Pools pools={s.pools} />
        <article class="card">
          <h3>Runs and sessions</h3>
          <p>
            {s.runs.active} running, {s.runs.queued} queued, at most {s.runs.max_concurrent} at once.
          </p>
          <p>
            MCP sessions: {s.sessions.total} open ({s.sessions.yours} yours).
          </p>
          {s.sessions.by_owner ? <Counts counts={s.sessions.by_owner} /> : null}
        </article>
        <PerMinute minutes={s.runs_per_minute} scope={scope} />
        <article class="card">
          <h3>
            Outcomes <span class="muted">(last hour, {scope})</span>
          </h3>
          <Counts counts={s.outcomes_last_hour} badges />
        </article>
        <ToolErrors errors={s.tool_errors} />
      </div>
    </section>
  );
}

function Engines({ s }: { s: SystemSummary }) {
  return (
    <article class="card">
      <h3>Engines</h3>
      <table>
        <tbody>
          {s.engines.map((e) => (
            <tr key={e.name} data-engine={e.name} data-ready={String(e.ready)}>
              <td>
                <span class={`badge ${e.ready ? 'badge-exited' : 'badge-failed'}`}>{e.ready ? 'ready' : 'not ready'}</span> {e.name}
              </td>
              <td>
                {e.version ? `Docker ${e.version} (API ${e.api_version}), cgroup ${e.cgroup_version}, ${e.runtimes.join(', ')}` : null}
                <div class="muted">{e.endpoint}</div>
                {e.reason ? <div class="error-text">{e.reason}</div> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {s.host ? (
        <p class="muted">
          Host: {s.host.cpus} CPUs, {bytes(s.host.memory_bytes)}. Disk quotas: {s.disk_quota.enforced ? s.disk_quota.mechanism : `not enforced (${s.disk_quota.reason ?? ''})`}.
        </p>
      ) : null}
    </article>
  );
}

function Pools({ pools }: { pools: SystemSummary['pools'] }) {
  return (
    <article class="card">
      <h3>Warm pools</h3>
      {Object.keys(pools).length === 0 ? <p class="muted">No warm pools (CAPSULE_POOL=0, or no profile keeps one).</p> : null}
      <table>
        <tbody>
          {Object.entries(pools).map(([name, p]) => (
            <tr key={name} data-pool={name}>
              <td>{name}</td>
              <td>
                <meter min={0} max={Math.max(1, p.target_size)} value={p.idle} /> {p.idle}/{p.target_size} {p.status}
                {p.last_error ? <div class="muted">last error: {p.last_error}</div> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </article>
  );
}

function PerMinute({ minutes, scope }: { minutes: SystemSummary['runs_per_minute']; scope: string }) {
  const max = Math.max(1, ...minutes.map((m) => m.started));
  return (
    <article class="card wide">
      <h3>
        Runs started per minute <span class="muted">(last 30 min, {scope}; most {max})</span>
      </h3>
      <div class="bars" role="img" aria-label="Runs started per minute">
        {minutes.map((m) => (
          <span key={m.minute} title={`${m.minute}: ${m.started}`} style={{ height: `${(100 * m.started) / max}%` }} />
        ))}
      </div>
    </article>
  );
}

function Counts({ counts, badges = false }: { counts: Record<string, number>; badges?: boolean }) {
  const entries = Object.entries(counts);
  if (!entries.length) return <p class="muted">None.</p>;
  return (
    <ul class="inline">
      {entries.map(([k, n]) => (
        <li key={k}>
          {badges ? <span class={`badge badge-${k}`}>{k}</span> : `${k}:`} {n}
        </li>
      ))}
    </ul>
  );
}

function ToolErrors({ errors }: { errors: SystemSummary['tool_errors'] }) {
  return (
    <article class="card">
      <h3>
        Tool errors by type <span class="muted">(since start)</span>
      </h3>
      {errors === null ? <p class="muted">Metrics are off on this server.</p> : errors.length === 0 ? <p class="muted">None.</p> : null}
      <table>
        <tbody>
          {(errors ?? []).map((e) => (
            <tr key={`${e.tool}/${e.type}`}>
              <td>
                <code>{e.type}</code>
              </td>
              <td>{e.tool}</td>
              <td>{e.count}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </article>
  );
}
