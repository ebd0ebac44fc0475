import { followLive } from '../live-run.js';
import { RUN_VIEWER_TOOL_META } from '../run-viewer.js';
import { guarded, type ToolRegistrar } from '../tool-context.js';
import { runCommandInput } from '../../schemas/run-inputs.js';
import { runResultObject } from '../../schemas/run-outputs.js';
import { runToolResult } from './run-result-format.js';

export const registerRunCommand: ToolRegistrar = (server, deps, session) => {
  const { sandbox } = deps;
  server.registerToolTask(
    'run_command',
    {
      title: 'Run a shell command in a fresh sandbox',
      description:
        'Runs a shell command in its own brand-new, locked-down container (no network, read-only root except /tmp and ' +
        '/workspace, non-root user, memory/CPU/process/time limits) that is removed afterwards. Nothing persists between ' +
        'calls. Returns status, exit code, stdout and stderr (capped; truncation is reported). isError is true when the ' +
        'command did not exit with code 0. Output also streams while it runs as notifications/message (logger stdout/stderr) and, ' +
        'with a progressToken, notifications/progress.',
      inputSchema: runCommandInput,
      outputSchema: runResultObject,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      execution: { taskSupport: 'optional' },
      _meta: RUN_VIEWER_TOOL_META,
    },
    guarded('run_command', deps, async (args, extra) =>
      runToolResult(await followLive(extra, session, sandbox.outputCap(args.profile), (options) => sandbox.startCommand(args, options))),
    ),
  );
};
