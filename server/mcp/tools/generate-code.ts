import { z } from 'zod';
import { CODEGEN_LANGUAGES } from '../../devtools/code-generator.js';
import { chooseModel } from '../model-sampling.js';
import { generateCodeOutput } from '../../schemas/devtools-outputs.js';
import { callOptions } from '../live-run.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerGenerateCode: ToolRegistrar = (server, deps, session) => {
  const { codegen, modelClient } = deps;
  server.registerToolTask(
    'generate_code',
    {
      title: 'Generate code and check it by running it',
      description:
        'Asks a model for a program (your client\'s model through MCP sampling; or the server\'s configured model), runs it with ' +
        'the given tests appended in a fresh sandbox, feeds failures back and retries, up to max_attempts. Returns the final ' +
        'code, its run result and every attempt. Model output only ever runs in the sandbox.',
      inputSchema: {
        task: z.string().describe('What the program must do.'),
        language: z.enum(CODEGEN_LANGUAGES),
        tests: z.string().optional().describe('Test code in the same language (e.g. asserts), appended to the program; exit code 0 means passed.'),
        max_attempts: z.number().int().min(1).max(5).optional().describe('Default 3.'),
        profile: z.string().optional(),
        timeout_ms: z.number().int().positive().optional(),
      },
      outputSchema: generateCodeOutput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
      execution: { taskSupport: 'optional' },
    },
    guarded('generate_code', deps, async (args, extra) => {
      const { complete, source } = chooseModel(session, extra, modelClient);
      const r = await codegen.generate(args, complete, callOptions(extra));
      const text = `${r.passed ? 'passed' : 'did not pass'} after ${r.attempts.length} attempt(s)\n\n${r.code ?? '(no code)'}`;
      return { ...structuredResult(generateCodeOutput, { ...r, model_source: source }, text), isError: !r.passed };
    }),
  );
};
