import { capsuleUri } from '../../schemas/uris.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { CollectedFile } from '../../sandbox/runs/collect-files.js';
import { isFailure, type RunResult } from '../../sandbox/runs/run-result.js';
import { runResultObject } from '../../schemas/run-outputs.js';
import { structuredResult } from '../tool-context.js';

/** A collected file as MCP content: a link to its workspace, or the content embedded. */
function fileContent(runId: string, f: CollectedFile): CallToolResult['content'] {
  if (f.uri) return [{ type: 'resource_link', uri: f.uri, name: f.path, mimeType: f.mime_type, size: f.size }];
  if (f.content === undefined) return [];
  const uri = capsuleUri.runFile(runId, f.path);
  return [
    {
      type: 'resource',
      resource: f.encoding === 'base64' ? { uri, mimeType: f.mime_type, blob: f.content } : { uri, mimeType: f.mime_type, text: f.content },
    },
  ];
}

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
  if (result.workspace?.over_quota) {
    const w = result.workspace;
    const what = w.workspace_id ? `workspace ${w.workspace_id}` : 'the scratch /workspace';
    const then = w.workspace_id ? '; writes are refused until files are deleted' : '';
    head.push(`${what} is over quota: ${w.bytes}/${w.quota_bytes} bytes, ${w.files}/${w.quota_files} entries${then}`);
  }
  if (result.collect_error) head.push(`collect failed: ${result.collect_error}`);
  // An agent reading only the text should still see why an install failed.
  const denied = result.network?.denied ?? [];
  if (denied.length) {
    const shown = denied.slice(0, 10).map((d) => `${d.host}${d.port ? `:${d.port}` : ''} (${d.attempts}x)`);
    head.push(`egress proxy refused: ${shown.join(', ')}${denied.length > 10 ? ` and ${denied.length - 10} more` : ''} (see network.denied)`);
  }
  const parts = [head.join('\n')];
  if (result.stdout) parts.push(`--- stdout ---\n${result.stdout}`);
  if (result.stderr) parts.push(`--- stderr ---\n${result.stderr}`);
  for (const f of result.files ?? []) if (f.skipped) parts.push(`collect: ${f.path} skipped: ${f.skipped}`);
  const base = structuredResult(runResultObject, result, parts.join('\n'));
  return { ...base, content: [...base.content, ...(result.files ?? []).flatMap((f) => fileContent(result.run_id, f))], isError: isFailure(result) };
}
