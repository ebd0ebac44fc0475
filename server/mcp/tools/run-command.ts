import { z } from 'zod';
import { ownerOf } from '../../auth/owner.js';
import { guarded, type ToolRegistrar } from '../tool-context.js';
import { limitsInput, runResultShape, runToolResult } from './run-result-format.js';

export const runCommandInput = {
  command: z.string().describe('Shell command, run as `/bin/sh -c <command>`.'),
  profile: z.string().optional().describe('Sandbox profile (see list_profiles); default "default".'),
  limits: limitsInput,
  timeout_ms: z.number().int().positive().optional().describe('Wall-time limit in ms; default and maximum come from the profile.'),
  stdin: z.string().optional().describe('Text written to the process stdin, then closed.'),
  env: z.record(z.string(), z.string()).optional().describe('Extra environment variables.'),
  workdir: z.string().optional().describe('Working directory: an absolute path inside /workspace or /tmp (default /workspace).'),
};

export const registerRunCommand: ToolRegistrar = (server, { sandbox, log }) => {
  server.registerTool(
    'run_command',
    {
      title: 'Run a shell command in a fresh sandbox',
      description:
        'Runs a shell command in its own brand-new, locked-down container (no network, read-only root except /tmp and ' +
        '/workspace, non-root user, memory/CPU/process/time limits) that is removed afterwards. Nothing persists between ' +
        'calls. Returns status, exit code, stdout and stderr (capped; truncation is reported). isError is true when the ' +
        'command did not exit with code 0.',
      inputSchema: runCommandInput,
      outputSchema: runResultShape,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    guarded('run_command', log, async (args, extra) => runToolResult(await sandbox.runCommand(args, { signal: extra.signal, owner: ownerOf(extra.authInfo) }))),
  );
};
