import { bytes, duration } from './format.js';
import type { RunResult } from './types.js';

/** The parts of a result beyond output and stats: signal, streams' sizes, workspace use, collected files. */
export function ResultFacts({ result: r }: { result: RunResult }) {
  return (
    <dl class="facts result-facts">
      <dt>Status</dt>
      <dd>
        {r.status}
        {r.signal ? ` (${r.signal})` : ''}
        {r.cached ? ' · replayed from the cache' : ''}
      </dd>
      <dt>Wall time</dt>
      <dd>{duration(r.duration_ms)}</dd>
      <dt>Output</dt>
      <dd>
        stdout {bytes(r.stdout_bytes)}, stderr {bytes(r.stderr_bytes)}
        {r.truncated ? ' (truncated)' : ''}
      </dd>
      <dt>Image</dt>
      <dd>
        <code>{r.image}</code>
      </dd>
      {r.workspace ? (
        <>
          <dt>Workspace</dt>
          <dd>
            {r.workspace.workspace_id ?? 'scratch'}: {bytes(r.workspace.bytes)} of {bytes(r.workspace.quota_bytes)}, {r.workspace.files} files
            {r.workspace.over_quota ? <strong class="error-text"> over quota</strong> : null}
          </dd>
        </>
      ) : null}
      {r.files?.length ? (
        <>
          <dt>Collected</dt>
          <dd>{r.files.map((f) => `${f.path} (${bytes(f.size)}${f.skipped ? `, ${f.skipped}` : ''})`).join(', ')}</dd>
        </>
      ) : null}
      {r.error ? (
        <>
          <dt>Error</dt>
          <dd class="error-text">{r.error}</dd>
        </>
      ) : null}
    </dl>
  );
}

/** `network.denied` of a networked run (the egress proxy's refusals), in whatever shape the server reports. */
export function NetworkDenied({ network }: { network: NonNullable<RunResult['network']> }) {
  const denied = network.denied;
  if (denied === undefined || denied === null) return null;
  const items = Array.isArray(denied) ? denied : [denied];
  return (
    <section class="network">
      <h3>Network: denied</h3>
      {items.length === 0 ? (
        <p class="muted">Nothing was denied.</p>
      ) : (
        <ul>
          {items.map((d, i) => (
            <li key={i}>
              <code>{typeof d === 'string' || typeof d === 'number' ? String(d) : JSON.stringify(d)}</code>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
