import { useEffect, useMemo, useState } from 'preact/hooks';
import { FlameGraph } from '../shared/flame-graph.js';
import { bytes, clock, duration } from '../shared/format.js';
import { OutputFeed } from '../shared/output-feed.js';
import { OutputView } from '../shared/output-view.js';
import { StatsChart } from '../shared/stats-chart.js';
import { StatusBadge } from '../shared/status-badge.js';
import type { ArtifactList, ProfileJson, RunRecord, RunStatsView, Whoami } from '../shared/types.js';
import { NetworkDenied, ResultFacts } from '../shared/result-facts.js';
import { download, getJson, request } from './api.js';
import { openRunEvents } from './event-stream.js';
import { useNow, usePolling } from './hooks.js';

type Live = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'not-live';

/** The run record; reload() after it may have changed (an exit event, a kill). */
function useRunRecord(path: string) {
  const [record, setRecord] = useState<RunRecord | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = () =>
    getJson<RunRecord>(path)
      .then((r) => (setRecord(r), setError(null)))
      .catch((err: unknown) => setError((err as Error).message));
  useEffect(() => void reload(), [path]);
  return { record, error, setError, reload };
}

/**
 * Live output while the run runs, into `feed`, through the SSE route (resumed with Last-Event-ID
 * after a drop). A run the route cannot stream yet (not a background process) ends the stream at once
 * with its state: then the record is polled until it ends.
 */
function useLiveOutput(runId: string, running: boolean, feed: OutputFeed, reload: () => Promise<void>) {
  const [live, setLive] = useState<Live>('connecting');
  const [streamed, setStreamed] = useState(false);
  useEffect(() => {
    if (!running) return;
    const stream = openRunEvents(runId, {
      onEvent: (e) => {
        if (e.event === 'stdout' || e.event === 'stderr') {
          const { data } = JSON.parse(e.data) as { data: string };
          // A resumed stream that restarts at 0 is the stored record's replay: start over.
          if (e.id !== undefined && Number(e.id) === new TextEncoder().encode(data).length && feed.size('stdout') + feed.size('stderr') > 0) feed.clear();
          feed.append(e.event, data);
          setStreamed(true);
        } else if (e.event === 'dropped') {
          feed.dropped((JSON.parse(e.data) as { bytes: number }).bytes);
        } else if (e.event === 'exit') {
          if ((JSON.parse(e.data) as { status: string }).status === 'running') setLive('not-live');
          else void reload();
        }
      },
      onState: (state) => setLive((prev) => (prev === 'not-live' ? prev : state)),
    });
    return () => stream.close();
  }, [runId, running]);
  usePolling(async () => (live === 'not-live' && running ? void (await reload()) : false), 2000, [live, running]);
  return { live, streamed };
}

/** Stats once a second while it runs (a process's live readings), once when it has ended. */
function useRunStats(path: string, status: string | undefined): RunStatsView | null {
  const [stats, setStats] = useState<RunStatsView | null>(null);
  usePolling(
    async () => {
      if (!status) return;
      setStats(await getJson<RunStatsView>(`${path}/stats`));
      return status === 'running';
    },
    1000,
    [status],
  );
  return stats;
}

/**
 * One run: live output while it runs, then the result; the stats chart; the flame graph of a
 * profiled run; the trace link; Kill for a running process.
 */
export function RunPage({ me, runId }: { me: Whoami; runId: string }) {
  const path = `/v1/runs/${encodeURIComponent(runId)}`;
  const { record, error, setError, reload } = useRunRecord(path);
  const feed = useMemo(() => new OutputFeed(), [runId]);
  const running = record?.status === 'running';
  const { live, streamed } = useLiveOutput(runId, running, feed, reload);
  const stats = useRunStats(path, record?.status);
  // A finished run shown from its result, unless its output already streamed in here.
  useEffect(() => {
    if (record?.result && !streamed) feed.setText(record.result.stdout, record.result.stderr);
  }, [record?.result, streamed]);

  if (error && !record) return <p class="error">{error}</p>;
  if (!record) return <p class="loading">Loading {runId}…</p>;
  const r = record.result;
  const kill = async () => {
    if (!confirm(`Kill ${record.run_id}? It gets SIGTERM, then SIGKILL after the grace period.`)) return;
    await request(path, { method: 'DELETE' }).catch((err: unknown) => setError((err as Error).message));
    await reload();
  };
  const note =
    running && live === 'not-live'
      ? 'Live output of this run is not available (only background processes stream today); it appears when the run ends.'
      : running && live === 'reconnecting'
        ? 'Connection lost: reconnecting and resuming where it stopped…'
        : undefined;
  return (
    <section class="run" data-run-id={record.run_id} data-status={record.status}>
      <div class="toolbar">
        <h2>
          <StatusBadge status={record.status} exitCode={record.exit_code} /> <code>{record.run_id}</code>
        </h2>
        {running && record.process_id ? (
          <button type="button" class="danger" onClick={kill}>
            Kill
          </button>
        ) : null}
      </div>
      {error ? <p class="error">{error}</p> : null}
      <p class="summary-line">
        <code>{record.summary}</code>
      </p>
      <RecordFacts record={record} me={me} />
      {record.error ? <p class="error">{record.error}</p> : null}
      {r?.truncated ? <p class="note">Output was over the profile's cap: the result keeps the first and last part of each stream (stdout {bytes(r.stdout_bytes)}, stderr {bytes(r.stderr_bytes)} in all).</p> : null}
      <h3>Output</h3>
      <OutputView feed={feed} note={note} />
      <h3>CPU and memory</h3>
      <StatsChart stats={stats?.stats ?? r?.stats ?? null} memoryLimit={stats?.memory_limit_bytes ?? null} />
      {r ? <ResultFacts result={r} /> : null}
      {r?.network ? <NetworkDenied network={r.network} /> : null}
      {!running ? <Profile runId={record.run_id} /> : null}
      {r ? <RawResult result={r} /> : null}
    </section>
  );
}

/** The result as JSON, its output (shown above) left out. */
function RawResult({ result: r }: { result: NonNullable<RunRecord['result']> }) {
  return (
    <details class="raw">
      <summary>Result JSON</summary>
      <pre>{JSON.stringify({ ...r, stdout: `(${r.stdout.length} characters, above)`, stderr: `(${r.stderr.length} characters, above)` }, null, 2)}</pre>
    </details>
  );
}

function RecordFacts({ record, me }: { record: RunRecord; me: Whoami }) {
  const running = record.status === 'running';
  const now = useNow(running);
  return (
    <dl class="facts">
      <dt>Kind</dt>
      <dd>
        {record.kind}
        {record.process_id ? ` (${record.process_id})` : ''}
      </dd>
      <dt>Profile</dt>
      <dd>{record.profile}</dd>
      {record.engine ? (
        <>
          <dt>Engine</dt>
          <dd>{record.engine}</dd>
        </>
      ) : null}
      {me.admin || record.owner !== me.owner ? (
        <>
          <dt>Owner</dt>
          <dd>{record.owner}</dd>
        </>
      ) : null}
      <dt>Started</dt>
      <dd>{clock(record.started_at)}</dd>
      <dt>Duration</dt>
      <dd>{duration(running ? now - new Date(record.started_at).getTime() : record.duration_ms)}</dd>
      <dt>Exit code</dt>
      <dd>{record.exit_code ?? '–'}</dd>
      <dt>Trace</dt>
      <dd>
        <TraceLink traceId={record.trace_id} template={me.trace_url_template} />
      </dd>
      {record.task_id ? (
        <>
          <dt>MCP task</dt>
          <dd>
            <code title="The tools/call was made as an MCP task: tasks/get and tasks/result take this id">{record.task_id}</code>
          </dd>
        </>
      ) : null}
    </dl>
  );
}

function TraceLink({ traceId, template }: { traceId: string | null; template: string | null }) {
  if (!traceId) return <span class="muted">none</span>;
  if (!template) return <code title="Set CAPSULE_TRACE_URL_TEMPLATE to link to your tracing UI">{traceId}</code>;
  return (
    <a href={template.replace('{trace_id}', encodeURIComponent(traceId))} target="_blank" rel="noopener noreferrer">
      <code>{traceId}</code>
    </a>
  );
}

/** The flame graph of a profiled run, drawn from its profile.json. */
function Profile({ runId }: { runId: string }) {
  const [profile, setProfile] = useState<ProfileJson | null>(null);
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    getJson<ArtifactList>(`/v1/runs/${encodeURIComponent(runId)}/artifacts`)
      .then(async ({ artifacts }) => {
        setNames(artifacts.map((a) => a.name));
        if (artifacts.some((a) => a.name === 'profile.json')) setProfile(await getJson<ProfileJson>(`/v1/runs/${encodeURIComponent(runId)}/artifacts/profile.json`));
      })
      .catch(() => undefined);
  }, [runId]);
  if (!names.length) return null;
  return (
    <section class="profile">
      <h3>Flame graph {profile ? <span class="muted">({profile.tool}; width is {profile.unit === 'ticks' ? 'CPU samples' : 'time'})</span> : null}</h3>
      {profile ? <FlameGraph profile={profile} /> : null}
      <p>
        {names.map((name) => (
          <button type="button" class="link" onClick={() => void download(`/v1/runs/${encodeURIComponent(runId)}/artifacts/${name}`, `${runId}-${name}`)}>
            Download {name}
          </button>
        ))}
      </p>
    </section>
  );
}
