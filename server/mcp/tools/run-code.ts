import { z } from 'zod';
import { LANGUAGES } from '../../sandbox/languages.js';
import { ownerOf } from '../../auth/owner.js';
import { guarded, type ToolRegistrar } from '../tool-context.js';
import { limitsInput, runResultShape, runToolResult } from './run-result-format.js';

export const runCodeInput = {
  language: z.enum(LANGUAGES).describe('python (3.11), javascript (Node 22), typescript (Node 22 type stripping) or bash.'),
  code: z.string().describe('Source code; copied into the container as a file, never through a shell string.'),
  args: z.array(z.string()).optional().describe('Command-line arguments passed to the program.'),
  profile: z.string().optional().describe('Sandbox profile (see list_profiles); default "default".'),
  limits: limitsInput,
  timeout_ms: z.number().int().positive().optional().describe('Wall-time limit in ms; default and maximum come from the profile.'),
  stdin: z.string().optional().describe('Text written to the program stdin, then closed.'),
  env: z.record(z.string(), z.string()).optional().describe('Extra environment variables.'),
};

export const registerRunCode: ToolRegistrar = (server, { sandbox, log }) => {
  server.registerTool(
    'run_code',
    {
      title: 'Run a code block in a fresh sandbox',
      description:
        'Runs a Python, JavaScript, TypeScript or Bash program in its own brand-new, locked-down container (no network, ' +
        'non-root, memory/CPU/process/time limits) that is removed afterwards. The working directory is an empty ' +
        '/workspace. Returns status, exit code, stdout and stderr (capped; truncation is reported). isError is true when ' +
        'the program did not exit with code 0.',
      inputSchema: runCodeInput,
      outputSchema: runResultShape,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    guarded('run_code', log, async (args, extra) => runToolResult(await sandbox.runCode(args, { signal: extra.signal, owner: ownerOf(extra.authInfo) }))),
  );
};
