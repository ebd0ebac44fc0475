import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { isFailure, type RunResult } from '../../sandbox/run-result.js';

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
