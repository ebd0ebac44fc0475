import { z } from 'zod';
import type { BackgroundProcess } from '../../sandbox/process-manager.js';
import { runResultObject } from '../../schemas/run-inputs.js';

export const processStateEnum = z.enum(['running', 'exited', 'timed_out', 'oom_killed', 'killed', 'failed']);

export const processSummaryShape = {
  process_id: z.string(),
  run_id: z.string(),
  state: processStateEnum,
  started_at: z.string(),
  finished_at: z.string().nullable(),
  command: z.string().describe('The command, or "<language> code (N bytes)".'),
  profile: z.string(),
  exit_code: z.number().int().nullable(),
};

export { runResultObject };

/** The summary of a process as the process tools report it. */
export function processSummary(p: BackgroundProcess) {
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
