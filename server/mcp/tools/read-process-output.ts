import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { readProcessOutputOutput } from '../../schemas/process-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerReadProcessOutput: ToolRegistrar = (server, deps) => {
  const { processes } = deps;
  server.registerTool(
    'read_process_output',
    {
      title: 'Read a background process output',
      description:
        'Returns output of a background process from `cursor` (a byte offset; omit it to start at the oldest kept output) and ' +
        'the next_cursor to pass next time, so repeated calls return every byte once, in order. dropped_bytes says how much ' +
        'older output was discarded by the retention cap before your cursor.',
      inputSchema: {
        process_id: z.string().describe('From start_process (a run_id also works).'),
        cursor: z.number().int().min(0).optional().describe('next_cursor of the previous read.'),
        max_bytes: z.number().int().positive().max(1 << 20).optional().describe('Most bytes to return (default 64 KiB, max 1 MiB).'),
      },
      outputSchema: readProcessOutputOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('read_process_output', deps, async (args, extra) => {
      const r = processes.read(ownerOf(extra.authInfo), args.process_id, args.cursor, args.max_bytes ?? 64 * 1024);
      const structured = {
        chunks: r.chunks.map(({ stream, data }) => ({ stream, data })),
        next_cursor: r.next_cursor,
        dropped_bytes: r.dropped_bytes,
        state: r.process.state,
        exit_code: r.process.result?.exit_code ?? null,
      };
      const text = `${r.chunks.map((c) => (c.stream === 'stderr' ? `[stderr] ${c.data}` : c.data)).join('')}\n[state ${structured.state}; next_cursor ${r.next_cursor}${r.dropped_bytes ? `; ${r.dropped_bytes} bytes dropped` : ''}]`;
      return structuredResult(readProcessOutputOutput, structured, text);
    }),
  );
};
