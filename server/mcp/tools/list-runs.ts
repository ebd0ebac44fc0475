import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { guarded, jsonResult, type ToolRegistrar } from '../tool-context.js';
import { runRecordShape } from '../../schemas/run-inputs.js';

export const registerListRuns: ToolRegistrar = (server, deps) => {
  const { store } = deps;
  server.registerTool(
    'list_runs',
    {
      title: 'List recorded runs',
      description: 'Lists your recent runs and processes, newest first (kept across restarts for the result TTL); filter by status.',
      inputSchema: {
        limit: z.number().int().min(1).max(500).optional().describe('Most records to return (default 20).'),
        status: z.enum(['running', 'exited', 'timed_out', 'oom_killed', 'killed', 'failed']).optional(),
      },
      outputSchema: { runs: z.array(z.object(runRecordShape)) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('list_runs', deps, async (args, extra) => {
      const runs = store.list(ownerOf(extra.authInfo), args).map(({ result: _result, ...record }) => record);
      const text = runs.length ? runs.map((r) => `${r.run_id} ${r.status}${r.exit_code !== null ? ` (exit ${r.exit_code})` : ''} ${r.started_at}: ${r.summary}`).join('\n') : 'no runs';
      return jsonResult({ runs }, text);
    }),
  );
};
