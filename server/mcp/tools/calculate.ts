import { z } from 'zod';
import { calculateOutput } from '../../schemas/devtools-outputs.js';
import { guarded, structuredResult, type ToolRegistrar } from '../tool-context.js';

export const registerCalculate: ToolRegistrar = (server, deps) => {
  server.registerTool(
    'calculate',
    {
      title: 'Calculate',
      description:
        'Evaluates a math expression with mathjs (never eval): arithmetic, exact big numbers (2^200), units ("5 cm + 2 inch to mm"), ' +
        'matrices and functions. Parser escapes are refused, and evaluation is bounded in time and memory.',
      inputSchema: { expression: z.string().describe('For example "sqrt(2) * 10", "12 km/h to m/s", "det([1,2;3,4])".') },
      outputSchema: calculateOutput,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    guarded('calculate', deps, async (args) => {
      const r = await deps.calculator.evaluate(args.expression);
      return structuredResult(calculateOutput, r, r.result);
    }),
  );
};
