import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { guarded, jsonResult, type ToolRegistrar } from '../tool-context.js';
import { processSummary, processSummaryShape } from './process-format.js';

export const registerListProcesses: ToolRegistrar = (server, deps) => {
  const { processes } = deps;
  server.registerTool(
    'list_processes',
    {
      title: 'List background processes',
      description: 'Lists your background processes (running, and finished within the result TTL) with state and exit code.',
      inputSchema: {},
      outputSchema: { processes: z.array(z.object(processSummaryShape)) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('list_processes', deps, async (_args, extra) => {
      const list = processes.list(ownerOf(extra.authInfo)).map(processSummary);
      const text = list.length ? list.map((p) => `${p.process_id} ${p.state}${p.exit_code !== null ? ` (exit ${p.exit_code})` : ''}: ${p.command}`).join('\n') : 'no processes';
      return jsonResult({ processes: list }, text);
    }),
  );
};
