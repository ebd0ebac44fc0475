import { systemInfoObject } from '../../schemas/system-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';
import { diskQuotaLine } from './list-profiles.js';

export const registerSystemInfo: ToolRegistrar = (server, deps) => {
  const { sandbox } = deps;
  server.registerTool(
    'system_info',
    {
      title: 'Capsule and engine facts',
      description: 'Reports the Capsule version, the container engine version, host CPUs and memory, sandbox images present, and run counts.',
      inputSchema: {},
      outputSchema: systemInfoObject,
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
      return structuredResult(systemInfoObject, info, text);
    }),
  );
};
