import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { waitProcessOutput } from '../../schemas/process-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerWaitProcess: ToolRegistrar = (server, deps) => {
  const { processes } = deps;
  server.registerTool(
    'wait_process',
    {
      title: 'Wait for a background process',
      description:
        'Waits up to timeout_ms for a background process to end. Returns done=true with the final result (status, exit code, ' +
        'capped output), or done=false with the current state; call again to keep waiting (clients with a per-call limit wait in steps).',
      inputSchema: {
        process_id: z.string(),
        timeout_ms: z.number().int().min(0).max(600_000).describe('Longest wait for this call (max 10 minutes).'),
      },
      outputSchema: waitProcessOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    guarded('wait_process', deps, async (args, extra) => {
      const p = await processes.wait(ownerOf(extra.authInfo), args.process_id, args.timeout_ms, extra.signal);
      const done = p.state !== 'running';
      const structured = { process_id: p.processId, state: p.state, done, result: p.result };
      const text = done ? `${p.processId} ${p.state}; exit code ${p.result?.exit_code ?? 'none'}` : `${p.processId} still running`;
      return structuredResult(waitProcessOutput, structured, text);
    }),
  );
};
