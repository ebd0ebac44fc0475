import { followLive } from '../live-run.js';
import { RUN_VIEWER_TOOL_META } from '../run-viewer.js';
import { guarded, type ToolRegistrar } from '../tool-context.js';
import { runCodeInput } from '../../schemas/run-inputs.js';
import { runResultObject } from '../../schemas/run-outputs.js';
import { runToolResult } from './run-result-format.js';

export const registerRunCode: ToolRegistrar = (server, deps, session) => {
  const { sandbox } = deps;
  server.registerToolTask(
    'run_code',
    {
      title: 'Run a code block in a fresh sandbox',
      description:
        'Runs a Python, JavaScript, TypeScript or Bash program in its own brand-new, locked-down container (no network, ' +
        'non-root, memory/CPU/process/time limits) that is removed afterwards. The working directory is an empty ' +
        '/workspace. Returns status, exit code, stdout and stderr (capped; truncation is reported). isError is true when ' +
        'the program did not exit with code 0. Output also streams while it runs as notifications/message (logger stdout/stderr) ' +
        'and, with a progressToken, notifications/progress.',
      inputSchema: runCodeInput,
      outputSchema: runResultObject,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      execution: { taskSupport: 'optional' },
      _meta: RUN_VIEWER_TOOL_META,
    },
    guarded('run_code', deps, async (args, extra) =>
      runToolResult(await followLive(extra, session, sandbox.outputCap(args.profile), (options) => sandbox.startCode(args, options))),
    ),
  );
};
