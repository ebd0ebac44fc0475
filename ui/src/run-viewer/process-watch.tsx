import type { App } from '@modelcontextprotocol/ext-apps';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { OutputFeed } from '../shared/output-feed.js';
import { OutputView } from '../shared/output-view.js';
import { StatsChart } from '../shared/stats-chart.js';
import { StatusBadge } from '../shared/status-badge.js';
import type { ContainerStats, ProcessOutput, ProcessStarted, RunRecord, RunStats } from '../shared/types.js';
import { callTool, useMemoryLimit } from './bridge.js';
import { RunView } from './run-view.js';

/**
 * A background process (start_process): its output read by cursor with read_process_output, paced by
 * wait_process long-polls (which return at once when it ends), stats from container_stats; then the
 * final result from get_run. Every call goes through the host's bridge.
 */
export function ProcessWatch({ app, started }: { app: App; started: ProcessStarted }) {
  const feed = useMemo(() => new OutputFeed(), [started.process_id]);
  const [stats, setStats] = useState<RunStats | null>(null);
  const [state, setState] = useState<string>(started.state);
  const [record, setRecord] = useState<RunRecord | null>(null);
  const [error, setError] = useState<string | null>(null);
  const limit = useMemoryLimit(app, started.profile);
  const id = started.process_id;

  useEffect(() => {
    let stop = false;
    const loop = async () => {
      let cursor: number | undefined;
      let lastStats = 0;
      for (;;) {
        if (stop) return;
        const out: ProcessOutput = await callTool(app, 'read_process_output', { process_id: id, max_bytes: 65536, ...(cursor !== undefined ? { cursor } : {}) });
        if (out.dropped_bytes) feed.dropped(out.dropped_bytes);
        for (const c of out.chunks) feed.append(c.stream, c.data);
        cursor = out.next_cursor;
        setState(out.state);
        if (Date.now() - lastStats > 1000) {
          lastStats = Date.now();
          const s: ContainerStats = await callTool(app, 'container_stats', { process_id: id });
          if (s.stats) setStats(s.stats);
        }
        if (out.state !== 'running' && out.chunks.length === 0) break;
        if (out.chunks.length === 0) await callTool(app, 'wait_process', { process_id: id, timeout_ms: 1000 });
      }
      setRecord(await callTool<RunRecord>(app, 'get_run', { run_id: started.run_id }));
    };
    loop().catch((err: unknown) => setError((err as Error).message));
    return () => {
      stop = true;
    };
  }, [id]);

  const kill = () => void callTool(app, 'kill_process', { process_id: id }).catch((err: unknown) => setError((err as Error).message));
  if (record?.result) return <RunView app={app} result={record.result} title="start_process" what={started.command} feed={feed} />;
  return (
    <article class="rv-process" data-process-id={id} data-state={state}>
      <div class="rv-head">
        <StatusBadge status={state} /> <strong>start_process</strong> <code>{started.command}</code>
        <span class="muted">
          <code>{id}</code> · {started.profile}
        </span>
        {state === 'running' ? (
          <button type="button" class="danger small" onClick={kill}>
            Kill
          </button>
        ) : null}
      </div>
      {error ? <p class="error">{error}</p> : null}
      <OutputView feed={feed} />
      <StatsChart stats={stats} memoryLimit={limit} />
    </article>
  );
}
