import { z } from 'zod';
import { diskQuotaSchema } from '../../schemas/disk-quota.js';
import { guarded, type ToolRegistrar } from '../tool-context.js';
import { diskQuotaLine } from './list-profiles.js';

export const registerSystemInfo: ToolRegistrar = (server, deps) => {
  const { sandbox } = deps;
  server.registerTool(
    'system_info',
    {
      title: 'Capsule and engine facts',
      description: 'Reports the Capsule version, the container engine version, host CPUs and memory, sandbox images present, and run counts.',
      inputSchema: {},
      outputSchema: {
        capsule_version: z.string(),
        instance_id: z.string(),
        engine: z.object({
          version: z.string(),
          api_version: z.string(),
          os: z.string(),
          kernel: z.string(),
          cgroup_version: z.string(),
          runtimes: z.array(z.string()),
          endpoint: z.string(),
        }),
        host: z.object({ cpus: z.number(), memory_bytes: z.number() }),
        images: z.array(
          z.object({
            ref: z.string(),
            present: z.boolean(),
            id: z.string().nullable(),
            size_bytes: z.number().nullable(),
            created_at: z.string().nullable(),
          }),
        ),
        runs: z.object({ active: z.number(), queued: z.number(), max_concurrent: z.number() }),
        pool: z.record(z.string(), z.number()).describe('Idle warm containers per profile.'),
        disk_quota: diskQuotaSchema,
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('system_info', deps, async () => {
      const info = await sandbox.engine.systemInfo();
      const text = [
        `Capsule ${info.capsule_version}; Docker ${info.engine.version} (API ${info.engine.api_version}) on ${info.engine.os}`,
        `host: ${info.host.cpus} CPUs, ${Math.round(info.host.memory_bytes / 1024 ** 2)} MiB`,
        ...info.images.map((i) => `image ${i.ref}: ${i.present ? 'present' : 'MISSING (run `make images`)'}`),
        diskQuotaLine(info.disk_quota),
      ].join('\n');
      return { content: [{ type: 'text', text }], structuredContent: info };
    }),
  );
};
