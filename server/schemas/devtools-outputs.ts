import { z } from 'zod';
import { runStatusEnum, runSummaryObject } from './run-outputs.js';

// What the developer tools return (analyze_code, run_tests, calculate, generate_code and the context tools).

export const diagnosticObject = z.object({
  file: z.string(),
  line: z.number().describe('From 1; 0 when the tool gave none.'),
  column: z.number(),
  severity: z.enum(['error', 'warning', 'info']),
  rule: z.string(),
  message: z.string(),
});

export const analyzeCodeOutput = z.object({
  file: z.string(),
  diagnostics: z.array(diagnosticObject),
  metrics: z.record(z.string(), z.number()),
  run: runSummaryObject,
});

export const testCaseObject = z.object({
  name: z.string(),
  classname: z.string().optional(),
  status: z.enum(['passed', 'failed', 'skipped']),
  duration_ms: z.number(),
  message: z.string().optional().describe('The failure or skip message, when there is one.'),
});

export const runTestsOutput = z.object({
  framework: z.enum(['pytest', 'node']),
  passed: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  duration_ms: z.number(),
  cases: z.array(testCaseObject),
  report_error: z.string().optional().describe('Why the JUnit report could not be read, when it could not.'),
  run: runSummaryObject,
});

export const calculateOutput = z.object({ result: z.string(), type: z.string().describe('The mathjs type: number, BigNumber, Unit, DenseMatrix, ...') });

export const codegenAttemptObject = z.object({
  attempt: z.number(),
  code: z.string().nullable(),
  model: z.string().optional(),
  status: z.enum([...runStatusEnum.options, 'no_code']).describe('The run status, or "no_code" when the answer held no code block.'),
  exit_code: z.number().nullable(),
  passed: z.boolean(),
  feedback: z.string().optional(),
});

export const generateCodeOutput = z.object({
  code: z.string().nullable(),
  passed: z.boolean(),
  result: runSummaryObject.nullable(),
  attempts: z.array(codegenAttemptObject),
  model_source: z.enum(['mcp_sampling', 'server_model']),
});

const contextKeyShape = { key: z.string(), bytes: z.number(), updated_at: z.string(), expires_at: z.string().nullable() };

export const setContextOutput = z.object({ key: z.string(), bytes: z.number(), expires_at: z.string().nullable() });
export const getContextOutput = z.object({ ...contextKeyShape, value: z.unknown() });
export const listContextOutput = z.object({ keys: z.array(z.object(contextKeyShape)) });
export const deleteContextOutput = z.object({ key: z.string(), deleted: z.boolean() });
