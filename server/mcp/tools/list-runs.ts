import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { listRunsOutput, runStateEnum } from '../../schemas/run-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerListRuns: ToolRegistrar = (server, deps) => {
  const { store } = deps;
  server.registerTool(
    'list_runs',
    {
      title: 'List recorded runs',
      description: 'Lists your recent runs and processes, newest first (kept across restarts for the result TTL); filter by status.',
      inputSchema: {
        limit: z.number().int().min(1).max(500).optional().describe('Most records to return (default 20).'),
        status: runStateEnum.optional(),
      },
      outputSchema: listRunsOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('list_runs', deps, async (args, extra) => {
      const runs = store.list(ownerOf(extra.authInfo), args).map(({ result: _result, ...record }) => record);
      const text = runs.length ? runs.map((r) => `${r.run_id} ${r.status}${r.exit_code !== null ? ` (exit ${r.exit_code})` : ''} ${r.started_at}: ${r.summary}`).join('\n') : 'no runs';
      return structuredResult(listRunsOutput, { runs }, text);
    }),
  );
};
