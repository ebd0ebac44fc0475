import { z } from 'zod';
import { RUN_VIEWER_TOOL_META } from '../run-viewer.js';
import { ownerOf } from '../../auth/owner.js';
import { PROFILE_LANGUAGES } from '../../profiling/profiling-service.js';
import { profileCodeOutput } from '../../schemas/profiling-outputs.js';
import { followLive } from '../live-run.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';
import { runToolResult } from './run-result-format.js';

export const registerProfileCode: ToolRegistrar = (server, deps, session) => {
  const { profiling, sandbox } = deps;
  server.registerToolTask(
    'profile_code',
    {
      title: 'Profile a code block and get a flame graph',
      description:
        'Runs JavaScript or TypeScript under 0x, or Python under cProfile, in a fresh sandbox, and returns the usual run ' +
        'result plus `profile`: the top 20 functions by self time and a flame graph (flamegraph_uri, an MCP resource and ' +
        'GET /v1/runs/{run_id}/artifacts/flamegraph.html). The sandbox profile name is in `sandbox_profile`.',
      inputSchema: {
        language: z.enum(PROFILE_LANGUAGES),
        code: z.string(),
        args: z.array(z.string()).optional(),
        profile: z.string().optional().describe('Sandbox profile (see list_profiles).'),
        timeout_ms: z.number().int().positive().optional(),
        workspace_id: z.string().optional(),
      },
      outputSchema: profileCodeOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      execution: { taskSupport: 'optional' },
      _meta: RUN_VIEWER_TOOL_META,
    },
    guarded('profile_code', deps, async (args, extra) => {
      const owner = ownerOf(extra.authInfo);
      const profiled = await followLive(
        extra,
        session,
        sandbox.outputCap(args.profile),
        (options) => profiling.start(args, options),
        (handle) => profiling.report(args, handle, owner),
      );
      const { profile: report, sandbox_profile, ...run } = profiled;
      const base = runToolResult({ ...run, profile: sandbox_profile });
      const lines = report.error
        ? [`profile failed: ${report.error}`]
        : [`${report.tool} top functions by self time:`, ...report.top.slice(0, 10).map((f) => `  ${f.self_pct.toFixed(1)}% self, ${f.total_pct.toFixed(1)}% total  ${f.function} ${f.file}:${f.line}`), `flame graph: ${report.flamegraph_uri}`];
      const links = report.flamegraph_uri
        ? [
            { type: 'resource_link' as const, uri: report.flamegraph_uri, name: 'flamegraph.html', mimeType: 'text/html' },
            ...(report.profile_uri ? [{ type: 'resource_link' as const, uri: report.profile_uri, name: 'profile.json', mimeType: 'application/json' }] : []),
          ]
        : [];
      const result = structuredResult(profileCodeOutput, profiled, `${(base.content[0] as { text: string }).text}\n${lines.join('\n')}`);
      return { ...result, content: [...result.content, ...base.content.slice(1), ...links], isError: base.isError };
    }),
  );
};
