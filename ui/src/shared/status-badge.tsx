import type { RunState } from './types.js';

const LABELS: Record<string, string> = {
  running: 'running',
  exited: 'exited',
  timed_out: 'timed out',
  oom_killed: 'OOM killed',
  killed: 'killed',
  failed: 'failed',
};

/** A run's status as a coloured badge; `exited` with a non-zero code is shown as a failure of the program. */
export function StatusBadge({ status, exitCode }: { status: RunState | string; exitCode?: number | null }) {
  const bad = status === 'exited' && exitCode !== undefined && exitCode !== null && exitCode !== 0;
  return (
    <span class={`badge badge-${status}${bad ? ' badge-nonzero' : ''}`} data-status={status}>
      {LABELS[status] ?? status}
    </span>
  );
}
