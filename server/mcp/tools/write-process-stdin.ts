import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { writeProcessStdinOutput } from '../../schemas/process-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerWriteProcessStdin: ToolRegistrar = (server, deps) => {
  const { processes } = deps;
  server.registerTool(
    'write_process_stdin',
    {
      title: 'Write to a background process stdin',
      description: 'Writes text to the stdin of a process started with stdin_open: true; eof: true closes stdin afterwards.',
      inputSchema: {
        process_id: z.string(),
        data: z.string().max(1 << 20).describe('Text to write (include "\\n" to end a line).'),
        eof: z.boolean().optional().describe('Close stdin after writing.'),
      },
      outputSchema: writeProcessStdinOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    guarded('write_process_stdin', deps, async (args, extra) => {
      await processes.writeStdin(ownerOf(extra.authInfo), args.process_id, args.data, args.eof ?? false);
      return structuredResult(writeProcessStdinOutput, { process_id: args.process_id, bytes_written: Buffer.byteLength(args.data), stdin_closed: args.eof ?? false });
    }),
  );
};
