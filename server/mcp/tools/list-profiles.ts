import { listProfilesOutput } from '../../schemas/system-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerListProfiles: ToolRegistrar = (server, deps) => {
  const { sandbox } = deps;
  server.registerTool(
    'list_profiles',
    {
      title: 'List sandbox profiles',
      description: 'Lists the sandbox profiles a run can use, with their effective limits (memory, CPUs, processes, timeouts, output caps).',
      inputSchema: {},
      outputSchema: listProfilesOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('list_profiles', deps, async () => {
      const profiles = sandbox.listProfiles();
      const text = profiles
        .map((p) => `${p.name}: ${p.description} (memory ${p.memory}, ${p.cpus} CPU, ${p.pids} pids, timeout ${p.timeout_default_ms}/${p.timeout_max_ms} ms)`)
        .join('\n');
      return structuredResult(listProfilesOutput, { profiles }, text);
    }),
  );
};
