import { z } from 'zod';
import { diskQuotaSchema } from '../../schemas/disk-quota.js';
import { guarded, type ToolRegistrar } from '../tool-context.js';

const profileShape = z.object({
  name: z.string(),
  description: z.string(),
  image: z.string(),
  network: z.string(),
  memory_bytes: z.number(),
  memory: z.string(),
  cpus: z.number(),
  pids: z.number(),
  timeout_default_ms: z.number(),
  timeout_max_ms: z.number(),
  output_max_bytes_per_stream: z.number(),
  tmpfs_tmp_bytes: z.number(),
  tmpfs_workspace_bytes: z.number(),
  read_only_root: z.boolean(),
  user: z.string(),
  pool_size: z.number(),
});

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
      outputSchema: { profiles: z.array(profileShape), disk_quota: diskQuotaSchema },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('list_profiles', deps, async () => {
      const profiles = sandbox.listProfiles();
      const diskQuota = await sandbox.engine.diskQuota();
      const text = profiles
        .map((p) => `${p.name}: ${p.description} (memory ${p.memory}, ${p.cpus} CPU, ${p.pids} pids, timeout ${p.timeout_default_ms}/${p.timeout_max_ms} ms)`)
        .concat(diskQuotaLine(diskQuota))
        .join('\n');
      return { content: [{ type: 'text', text }], structuredContent: { profiles, disk_quota: diskQuota } };
    }),
  );
};
