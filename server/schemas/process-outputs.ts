import { z } from 'zod';
import { runResultObject, runStateEnum, runStatsObject } from './run-outputs.js';

// What the background-process tools return (start_process, list_processes, read_process_output,
// wait_process, write_process_stdin, kill_process, container_stats).

/** A background process as the process tools report it. */
export const processSummaryObject = z.object({
  process_id: z.string(),
  run_id: z.string(),
  state: runStateEnum,
  started_at: z.string(),
  finished_at: z.string().nullable(),
  command: z.string().describe('The command, or "<language> code (N bytes)".'),
  profile: z.string(),
  exit_code: z.number().int().nullable(),
});
export type ProcessSummary = z.infer<typeof processSummaryObject>;

export const startProcessOutput = processSummaryObject;
export const killProcessOutput = processSummaryObject;
export const listProcessesOutput = z.object({ processes: z.array(processSummaryObject) });

export const readProcessOutputOutput = z.object({
  chunks: z.array(z.object({ stream: z.enum(['stdout', 'stderr']), data: z.string() })),
  next_cursor: z.number().int(),
  dropped_bytes: z.number().int(),
  state: runStateEnum,
  exit_code: z.number().int().nullable(),
});

export const waitProcessOutput = z.object({
  process_id: z.string(),
  state: runStateEnum,
  done: z.boolean(),
  result: runResultObject.nullable().describe('The final result once done; null while running.'),
});

export const writeProcessStdinOutput = z.object({ process_id: z.string(), bytes_written: z.number().int(), stdin_closed: z.boolean() });

export const containerStatsOutput = z.object({
  process_id: z.string(),
  state: runStateEnum,
  stats: runStatsObject.nullable().describe('Null until the launcher first reports.'),
});
