import { listProfilesOutput } from '../../schemas/system-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

/** One line on disk quotas for a tool's text. */
export function diskQuotaLine(q: { enforced: boolean; mechanism: string; root: string; reason?: string }): string {
  return q.enforced ? `disk quota: enforced (${q.mechanism} at ${q.root})` : `disk quota: NOT enforced (${q.reason ?? 'unknown'})`;
}

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
      const profiles = await sandbox.currentProfiles();
      const diskQuota = await sandbox.engine.diskQuota();
      const text = profiles
        .map((p) => `${p.name}: ${p.description} (runtime ${p.runtime}, memory ${p.memory}, ${p.cpus} CPU, ${p.pids} pids, timeout ${p.timeout_default_ms}/${p.timeout_max_ms} ms)${p.enabled ? '' : ` DISABLED: ${p.disabled_reason}`}`)
        .concat(diskQuotaLine(diskQuota))
        .join('\n');
      return structuredResult(listProfilesOutput, { profiles, disk_quota: diskQuota }, text);
    }),
  );
};
