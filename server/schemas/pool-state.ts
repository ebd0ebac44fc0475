import { z } from 'zod';

/** One profile's warm pool as an operator sees it (system_info `pool_state`, /readyz `pool`). */
export const poolProfileState = z.object({
  status: z
    .enum(['full', 'filling', 'retrying', 'closed'])
    .describe('full: target reached; filling: creating containers; retrying: the last creation failed, waiting for next_retry_at; closed: shutting down.'),
  target_size: z.number().int().describe('Warm containers this profile keeps ready (its pool.size).'),
  idle: z.number().int().describe('Warm containers ready right now.'),
  filling: z.boolean().describe('A refill is under way (creating, or waiting to retry).'),
  consecutive_failures: z.number().int().describe('Creations that failed in a row; 0 after a success.'),
  last_error: z.string().nullable().describe('The last refill failure or dead idle container, kept after recovery.'),
  last_error_at: z.string().nullable().describe('When last_error happened (ISO 8601).'),
  next_retry_at: z.string().nullable().describe('When the next creation is tried (ISO 8601), while retrying.'),
  replaced_dead: z.number().int().describe('Idle containers found dead (engine stopped, removed from outside) and replaced since start.'),
  handed_out: z.number().int().describe('Runs served warm since start.'),
});

export type PoolProfileState = z.infer<typeof poolProfileState>;
