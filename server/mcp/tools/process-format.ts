import type { BackgroundProcess } from '../../sandbox/processes/process-manager.js';
import type { ProcessSummary } from '../../schemas/process-outputs.js';

/** The summary of a process as the process tools report it. */
export function processSummary(p: BackgroundProcess): ProcessSummary {
  return {
    process_id: p.processId,
    run_id: p.runId,
    state: p.state,
    started_at: p.startedAt.toISOString(),
    finished_at: p.finishedAt?.toISOString() ?? null,
    command: p.display,
    profile: p.profile,
    exit_code: p.result?.exit_code ?? null,
  };
}
