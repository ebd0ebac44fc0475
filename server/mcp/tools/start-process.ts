import { z } from 'zod';
import { RUN_VIEWER_TOOL_META } from '../run-viewer.js';
import { ownerOf } from '../../auth/owner.js';
import { LANGUAGES } from '../../sandbox/container/languages.js';
import { startProcessOutput } from '../../schemas/process-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';
import { processSummary } from './process-format.js';
import { limitsInput, workspaceRunInput } from '../../schemas/run-inputs.js';

export const startProcessInput = {
  command: z.string().optional().describe('Shell command (`/bin/sh -c`). Give this, or language and code.'),
  language: z.enum(LANGUAGES).optional().describe('Language of `code`.'),
  code: z.string().optional().describe('Program source, copied in as a file.'),
  args: z.array(z.string()).optional().describe('Arguments for the program (with code).'),
  profile: z.string().optional().describe('Sandbox profile (see list_profiles).'),
  limits: limitsInput,
  timeout_ms: z.number().int().positive().optional().describe('Wall-time limit; processes use the profile\'s longer process timeouts (default 10 min).'),
  env: z.record(z.string(), z.string()).optional().describe('Extra environment variables.'),
  stdin: z.string().optional().describe('Initial stdin.'),
  stdin_open: z.boolean().optional().describe('Keep stdin open for write_process_stdin (otherwise it is closed at start).'),
  ...workspaceRunInput,
};

export const registerStartProcess: ToolRegistrar = (server, deps) => {
  const { processes } = deps;
  server.registerTool(
    'start_process',
    {
      title: 'Start a background process',
      description:
        'Starts a command or program in a fresh sandbox container and returns at once with its process_id. Use it for work ' +
        'longer than one call: read its output with read_process_output (cursor-based), wait with wait_process, send input ' +
        'with write_process_stdin, stop it with kill_process. It keeps running if the client disconnects; results are kept ' +
        'for an hour after it ends.',
      inputSchema: startProcessInput,
      outputSchema: startProcessOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      _meta: RUN_VIEWER_TOOL_META,
    },
    guarded('start_process', deps, async (args, extra) => {
      const p = await processes.start(args, ownerOf(extra.authInfo));
      return structuredResult(startProcessOutput, processSummary(p), `started ${p.processId} (run ${p.runId})`);
    }),
  );
};
