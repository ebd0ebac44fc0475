import { z } from 'zod';
import { RUN_VIEWER_TOOL_META } from '../run-viewer.js';
import { runTestsOutput } from '../../schemas/devtools-outputs.js';
import { callOptions } from '../live-run.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerRunTests: ToolRegistrar = (server, deps) => {
  const { devtools } = deps;
  server.registerToolTask(
    'run_tests',
    {
      title: 'Run a test suite',
      description:
        'Runs the tests of a workspace in a fresh sandbox with pytest or Node\'s test runner (auto-detected by default) and ' +
        'returns structured results parsed from the JUnit report: counts, duration, and every case with its status and failure message.',
      inputSchema: {
        workspace_id: z.string(),
        framework: z.enum(['auto', 'pytest', 'node']).optional(),
        path: z.string().optional().describe('A test file or folder inside the workspace (default: all tests).'),
        timeout_ms: z.number().int().positive().optional(),
        profile: z.string().optional().describe('Sandbox profile, e.g. "build" for long suites.'),
      },
      outputSchema: runTestsOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
      execution: { taskSupport: 'optional' },
      _meta: RUN_VIEWER_TOOL_META,
    },
    guarded('run_tests', deps, async (args, extra) => {
      const r = await devtools.runTests(args, callOptions(extra));
      const failures = r.cases.filter((c) => c.status === 'failed').map((c) => `FAILED ${c.name}${c.message ? `: ${c.message.split('\n')[0]}` : ''}`);
      const text = [`${r.framework}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped in ${r.duration_ms} ms`, ...failures, ...(r.report_error ? [r.report_error] : [])].join('\n');
      const result = structuredResult(runTestsOutput, r, text);
      return { ...result, isError: r.failed > 0 || Boolean(r.report_error) };
    }),
  );
};
