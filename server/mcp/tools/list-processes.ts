import { ownerOf } from '../../auth/owner.js';
import { listProcessesOutput } from '../../schemas/process-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';
import { processSummary } from './process-format.js';

export const registerListProcesses: ToolRegistrar = (server, deps) => {
  const { processes } = deps;
  server.registerTool(
    'list_processes',
    {
      title: 'List background processes',
      description: 'Lists your background processes (running, and finished within the result TTL) with state and exit code.',
      inputSchema: {},
      outputSchema: listProcessesOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('list_processes', deps, async (_args, extra) => {
      const list = processes.list(ownerOf(extra.authInfo)).map(processSummary);
      const text = list.length ? list.map((p) => `${p.process_id} ${p.state}${p.exit_code !== null ? ` (exit ${p.exit_code})` : ''}: ${p.command}`).join('\n') : 'no processes';
      return structuredResult(listProcessesOutput, { processes: list }, text);
    }),
  );
};
