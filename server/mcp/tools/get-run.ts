import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { NotFoundError } from '../../errors.js';
import { getRunOutput } from '../../schemas/run-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerGetRun: ToolRegistrar = (server, deps) => {
  const { store } = deps;
  server.registerTool(
    'get_run',
    {
      title: 'Get a recorded run',
      description: 'Returns the record of one of your runs or processes by run_id, with its full result once finished. Records survive server restarts for the result TTL.',
      inputSchema: { run_id: z.string() },
      outputSchema: getRunOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('get_run', deps, async (args, extra) => {
      const record = store.get(args.run_id, ownerOf(extra.authInfo));
      if (!record) throw new NotFoundError(`run ${args.run_id} not found (it never existed, expired, or belongs to another owner)`);
      return structuredResult(getRunOutput, record, `${record.run_id} ${record.status}${record.exit_code !== null ? ` (exit ${record.exit_code})` : ''}: ${record.summary}`);
    }),
  );
};
