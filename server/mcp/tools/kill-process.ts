import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { PROCESS_SIGNALS } from '../../sandbox/processes/process-manager.js';
import { killProcessOutput } from '../../schemas/process-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';
import { processSummary } from './process-format.js';

export const registerKillProcess: ToolRegistrar = (server, deps) => {
  const { processes } = deps;
  server.registerTool(
    'kill_process',
    {
      title: 'Stop a background process',
      description:
        'Stops a background process: by default (or SIGTERM/SIGKILL) the whole container gets SIGTERM, then SIGKILL after a ' +
        'short grace, and the process ends as "killed". Other signals (SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) are only delivered.',
      inputSchema: { process_id: z.string(), signal: z.enum(PROCESS_SIGNALS).optional() },
      outputSchema: killProcessOutput,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    guarded('kill_process', deps, async (args, extra) => {
      const p = await processes.kill(ownerOf(extra.authInfo), args.process_id, args.signal);
      return structuredResult(killProcessOutput, processSummary(p), `${p.processId} ${p.state}`);
    }),
  );
};
