import { z } from 'zod';

export const runSummaryShape = {
  run_id: z.string(),
  status: z.enum(['exited', 'timed_out', 'oom_killed', 'killed', 'failed']),
  exit_code: z.number().int().nullable(),
  duration_ms: z.number().int(),
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
};
