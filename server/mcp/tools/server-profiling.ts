import { ownerOf } from '../../auth/owner.js';
import { serverProfileReportObject, serverProfilingStatusObject } from '../../schemas/profiling-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

/** start_server_profiling, stop_server_profiling and server_profiling_status: a CPU profile of Capsule itself. */
export const registerServerProfiling: ToolRegistrar = (server, deps) => {
  const { selfProfiler } = deps;
  server.registerTool(
    'start_server_profiling',
    {
      title: 'Start profiling the Capsule server',
      description: 'Starts a CPU profile of the Capsule server process itself (node:inspector). One session at a time; stop it with stop_server_profiling.',
      inputSchema: {},
      outputSchema: serverProfilingStatusObject,
      annotations: { readOnlyHint: false, openWorldHint: false },
    },
    guarded('start_server_profiling', deps, async (_args, extra) => {
      await selfProfiler.start(ownerOf(extra.authInfo));
      const status = selfProfiler.status();
      return structuredResult(serverProfilingStatusObject, status, `server profiling started (${status.profile_id})`);
    }),
  );
  server.registerTool(
    'stop_server_profiling',
    {
      title: 'Stop profiling the Capsule server',
      description: 'Stops the server CPU profile and returns its top functions and links to the flame graph and the .cpuprofile (open it in Chrome DevTools or speedscope).',
      inputSchema: {},
      outputSchema: serverProfileReportObject,
      annotations: { readOnlyHint: false, openWorldHint: false },
    },
    guarded('stop_server_profiling', deps, async (_args, extra) => {
      const report = await selfProfiler.stop(ownerOf(extra.authInfo));
      const text = [`server profile ${report.profile_id}: ${report.samples} samples in ${report.duration_ms} ms`, ...report.top.slice(0, 10).map((f) => `  ${f.self_pct}% ${f.function} ${f.file}:${f.line}`)].join('\n');
      const result = structuredResult(serverProfileReportObject, report, text);
      result.content.push(
        { type: 'resource_link', uri: report.flamegraph_uri, name: 'flamegraph.html', mimeType: 'text/html' },
        { type: 'resource_link', uri: report.cpuprofile_uri, name: 'server.cpuprofile', mimeType: 'application/json' },
      );
      return result;
    }),
  );
  server.registerTool(
    'server_profiling_status',
    {
      title: 'Server profiling status',
      description: 'Says whether a server CPU profile is being recorded, and since when.',
      inputSchema: {},
      outputSchema: serverProfilingStatusObject,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('server_profiling_status', deps, async () => {
      const status = selfProfiler.status();
      return structuredResult(serverProfilingStatusObject, status, status.running ? `recording ${status.profile_id} since ${status.started_at}` : 'not recording');
    }),
  );
};
