import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { containerStatsOutput } from '../../schemas/process-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerContainerStats: ToolRegistrar = (server, deps) => {
  const { processes } = deps;
  server.registerTool(
    'container_stats',
    {
      title: 'Live stats of a background process',
      description: 'CPU time, memory (current samples and peak), processes and block I/O of a background process container, refreshed about once a second while it runs.',
      inputSchema: { process_id: z.string() },
      outputSchema: containerStatsOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('container_stats', deps, async (args, extra) => {
      const p = processes.get(ownerOf(extra.authInfo), args.process_id);
      const s = p.stats;
      const text = s ? `${p.processId} ${p.state}: cpu ${s.cpu_ms ?? 'unknown'} ms, memory peak ${s.memory_peak_bytes ?? 'unknown'} bytes, ${s.pids_peak ?? 'unknown'} processes at most` : `${p.processId} ${p.state}: no stats yet`;
      return structuredResult(containerStatsOutput, { process_id: p.processId, state: p.state, stats: s }, text);
    }),
  );
};
