import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { isFailure, type RunResult } from '../../sandbox/run-result.js';

/** Optional narrowing of the profile's limits (never loosening). */
export const limitsInput = z
  .object({
    memory_mb: z.number().int().positive().optional().describe('Lower memory limit in MiB (at most the profile\'s).'),
    cpus: z.number().positive().optional().describe('Lower CPU limit (at most the profile\'s).'),
    pids: z.number().int().positive().optional().describe('Lower process limit (at most the profile\'s).'),
  })
  .strict()
  .optional()
  .describe('Narrow the profile\'s limits for this call; values above the profile are rejected.');

/** The structured result shared by run_command and run_code (their outputSchema). */
export const runResultShape = {
  run_id: z.string().describe('Identifier of this run (also the capsule.run_id container label).'),
  status: z.enum(['exited', 'timed_out', 'oom_killed', 'killed', 'failed']).describe('How the run ended.'),
  exit_code: z.number().int().nullable().describe('Exit code of the process; null when it never exited by itself.'),
  signal: z.string().nullable().describe('Signal that ended the process, when one did.'),
  stdout: z.string().describe('Captured stdout (head and tail kept when over the cap).'),
  stderr: z.string().describe('Captured stderr (head and tail kept when over the cap).'),
  stdout_bytes: z.number().int().describe('Every byte written to stdout, kept or not.'),
  stderr_bytes: z.number().int().describe('Every byte written to stderr, kept or not.'),
  truncated: z.boolean().describe('True when output beyond the cap was dropped from the middle.'),
  duration_ms: z.number().int().describe('Wall time from container start to exit.'),
  profile: z.string().describe('Sandbox profile used.'),
  image: z.string().describe('Container image used.'),
  error: z.string().optional().describe('Why the run failed or was killed, when it was.'),
};

const STATUS_TEXT: Record<RunResult['status'], string> = {
  exited: 'exited',
  timed_out: 'timed out (killed at the wall-time limit)',
  oom_killed: 'killed: out of memory',
  killed: 'killed',
  failed: 'failed',
};

/** The MCP result of a run: structured content plus a short text a model can read. */
export function runToolResult(result: RunResult): CallToolResult {
  const head = [
    `${STATUS_TEXT[result.status]}; exit code ${result.exit_code ?? 'none'}${result.signal ? ` (${result.signal})` : ''}; ${result.duration_ms} ms; profile ${result.profile}; run ${result.run_id}`,
  ];
  if (result.error) head.push(`error: ${result.error}`);
  if (result.truncated) head.push(`output truncated: stdout ${result.stdout_bytes} bytes, stderr ${result.stderr_bytes} bytes in all`);
  const parts = [head.join('\n')];
  if (result.stdout) parts.push(`--- stdout ---\n${result.stdout}`);
  if (result.stderr) parts.push(`--- stderr ---\n${result.stderr}`);
  return {
    content: [{ type: 'text', text: parts.join('\n') }],
    structuredContent: { ...result },
    isError: isFailure(result),
  };
}
