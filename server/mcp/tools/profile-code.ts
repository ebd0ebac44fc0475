import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { PROFILE_LANGUAGES } from '../../profiling/profiling-service.js';
import { runResultShape } from '../../schemas/run-inputs.js';
import { runWithLiveOutput } from '../live-run.js';
import { guarded, type ToolRegistrar } from '../tool-context.js';
import { runToolResult } from './run-result-format.js';

const { profile: _sandboxProfileName, ...resultShape } = runResultShape;

export const registerProfileCode: ToolRegistrar = (server, deps, session) => {
  const { profiling, sandbox } = deps;
  server.registerTool(
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
      outputSchema: {
        ...resultShape,
        sandbox_profile: z.string(),
        profile: z.object({
          tool: z.enum(['0x', 'cprofile']),
          flamegraph_uri: z.string().nullable(),
          profile_uri: z.string().nullable(),
          top: z.array(z.object({ function: z.string(), file: z.string(), line: z.number(), self_pct: z.number(), total_pct: z.number() })),
          error: z.string().optional(),
        }),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    guarded('profile_code', deps, async (args, extra) => {
      const owner = ownerOf(extra.authInfo);
      let report!: Awaited<ReturnType<typeof profiling.profileCode>>['profile'];
      const result = await runWithLiveOutput(extra, session, sandbox.outputCap(args.profile), async (options) => {
        const { profile, sandbox_profile, ...rest } = await profiling.profileCode(args, { ...options, owner });
        report = profile;
        return { ...rest, profile: sandbox_profile };
      });
      const base = runToolResult(result);
      const { profile: sandboxProfile, ...structured } = result;
      const lines = report.error
        ? [`profile failed: ${report.error}`]
        : [`${report.tool} top functions by self time:`, ...report.top.slice(0, 10).map((f) => `  ${f.self_pct.toFixed(1)}% self, ${f.total_pct.toFixed(1)}% total  ${f.function} ${f.file}:${f.line}`), `flame graph: ${report.flamegraph_uri}`];
      const links = report.flamegraph_uri
        ? [
            { type: 'resource_link' as const, uri: report.flamegraph_uri, name: 'flamegraph.html', mimeType: 'text/html' },
            ...(report.profile_uri ? [{ type: 'resource_link' as const, uri: report.profile_uri, name: 'profile.json', mimeType: 'application/json' }] : []),
          ]
        : [];
      return {
        ...base,
        content: [{ type: 'text', text: `${(base.content[0] as { text: string }).text}\n${lines.join('\n')}` }, ...base.content.slice(1), ...links],
        structuredContent: { ...structured, sandbox_profile: sandboxProfile, profile: report },
      };
    }),
  );
};
