import { z } from 'zod';
import { ANALYSIS_LANGUAGES } from '../../devtools/analysis-plan.js';
import { analyzeCodeOutput } from '../../schemas/devtools-outputs.js';
import { callOptions } from '../live-run.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerAnalyzeCode: ToolRegistrar = (server, deps) => {
  const { devtools } = deps;
  server.registerToolTask(
    'analyze_code',
    {
      title: 'Analyze code (syntax, lint, metrics)',
      description:
        'Checks Python, JavaScript or TypeScript without running it, inside a sandbox: syntax (py_compile, node --check, ' +
        'the TypeScript compiler), a linter (pyflakes; ESLint recommended rules, e.g. no-undef) and size/complexity metrics. ' +
        'Give `code`, or `workspace_id` and `path` of a file in a workspace.',
      inputSchema: {
        language: z.enum(ANALYSIS_LANGUAGES),
        code: z.string().optional(),
        workspace_id: z.string().optional(),
        path: z.string().optional().describe('File in the workspace, relative to /workspace.'),
        profile: z.string().optional(),
      },
      outputSchema: analyzeCodeOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
      execution: { taskSupport: 'optional' },
    },
    guarded('analyze_code', deps, async (args, extra) => {
      const r = await devtools.analyzeCode(args, callOptions(extra));
      const text = r.diagnostics.length
        ? r.diagnostics.map((d) => `${d.file}:${d.line}:${d.column} ${d.severity} ${d.rule}: ${d.message}`).join('\n')
        : 'no problems found';
      return structuredResult(analyzeCodeOutput, r, `${text}\nmetrics: ${JSON.stringify(r.metrics)}`);
    }),
  );
};
