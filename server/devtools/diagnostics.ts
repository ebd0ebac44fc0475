import { posix } from 'node:path';
import { z } from 'zod';
import { JOB_DIR } from '../sandbox/container/languages.js';
import { type AnalysisLanguage, checkAnalysisFileName } from './analysis-plan.js';
import type { diagnosticObject } from '../schemas/devtools-outputs.js';

/** One finding, positioned in the user's file (line and column from 1; 0 when the tool gave none). */
export type Diagnostic = z.infer<typeof diagnosticObject>;
export type Severity = Diagnostic['severity'];

/** What analyze_code reports. */
export interface Analysis {
  diagnostics: Diagnostic[];
  metrics: Record<string, number>;
}

// The sandbox wrote these files; their shapes are checked, never assumed.
const eslintReport = z.array(
  z.object({
    messages: z.array(
      z.object({
        ruleId: z.string().nullish(),
        severity: z.number(),
        message: z.string(),
        fatal: z.boolean().optional(),
        line: z.number().optional(),
        column: z.number().optional(),
      }),
    ),
  }),
);
const eslintStatus = z.object({ exit_code: z.number().nullish(), stderr: z.string().optional(), skipped: z.string().optional() });
const nodeCheck = z.object({ exit_code: z.number().nullish(), stderr: z.string().default('') });
const tscResult = z.object({ exit_code: z.number().nullish(), output: z.string().default(''), stderr: z.string().default('') });
const pySyntax = z.object({ ok: z.boolean(), message: z.string().optional(), line: z.number().optional(), column: z.number().optional() });
const pyflakesReport = z.array(z.object({ line: z.number(), column: z.number(), rule: z.string(), message: z.string() }));
const metricsFile = z.record(z.string(), z.unknown());

// pyflakes findings that mean the program is wrong (it will fail or misbehave), not merely untidy.
const PYFLAKES_ERRORS = new Set([
  'UndefinedName', 'UndefinedExport', 'UndefinedLocal', 'DuplicateArgument', 'ReturnOutsideFunction', 'YieldOutsideFunction',
  'ContinueOutsideLoop', 'BreakOutsideLoop', 'DefaultExceptNotLast', 'TwoStarredExpressions', 'TooManyExpressionsInStarredAssignment',
  'ForwardAnnotationSyntaxError', 'LateFutureImport', 'FutureFeatureNotDefined', 'ImportStarNotPermitted', 'SyntaxError',
  'StringDotFormatMissingArgument', 'PercentFormatMissingArgument', 'PercentFormatPositionalCountMismatch', 'InvalidPrintSyntax',
]);
// tsc reports unused declarations (--noUnusedLocals) as errors; they do not stop a program.
const TSC_WARNINGS = new Set(['TS6133', 'TS6138', 'TS6192', 'TS6196', 'TS6198', 'TS6199', 'TS6205']);

const MAX_MESSAGE_CHARS = 1_000;

class Findings {
  readonly list: Diagnostic[] = [];
  constructor(readonly file: string) {}
  add(line: number, column: number, severity: Severity, rule: string, message: string, file = this.file): void {
    const text = message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS - 3)}...` : message;
    this.list.push({ file, line: Math.max(0, Math.trunc(line)), column: Math.max(0, Math.trunc(column)), severity, rule, message: text });
  }
  /** A step of the analysis itself failed or was skipped: reported, never thrown. */
  note(rule: string, message: string): void {
    this.add(0, 0, 'info', rule, message);
  }
}

/** Parse one JSON output with its schema; a missing or unreadable file becomes a note and undefined. */
function read<T>(outputs: ReadonlyMap<string, Buffer>, name: string, schema: z.ZodType<T>, found: Findings, step: string): T | undefined {
  const failed = outputs.get(`${step}.error.txt`);
  if (failed) {
    const lines = failed.toString('utf8').trim().split('\n');
    found.note('capsule/tool-error', `the ${step} step failed: ${lines.at(-1) ?? ''}`);
    return undefined;
  }
  const raw = outputs.get(name);
  if (!raw) {
    found.note('capsule/missing-output', `the ${step} step wrote no ${name} (the analysis may have hit its time or memory limit)`);
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    found.note('capsule/tool-error', `${name} is not valid JSON`);
    return undefined;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    found.note('capsule/tool-error', `${name} does not have the expected shape`);
    return undefined;
  }
  return parsed.data;
}

function numbers(record: Record<string, unknown> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(record ?? {})) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
}

/** node --check's stderr: "<file>:<line>", the source line, a caret under the column, then "SyntaxError: ...". */
export function parseNodeCheck(stderr: string): { line: number; column: number; message: string } | null {
  const lines = stderr.split('\n');
  const where = /:(\d+)$/.exec(lines[0] ?? '');
  const errorLine = lines.find((l) => /^[A-Z]\w*Error: /.test(l));
  if (!errorLine) return null;
  const caret = lines.findIndex((l, i) => i > 0 && /^\s*\^+\s*$/.test(l));
  return { line: where ? Number(where[1]) : 0, column: caret > 0 ? lines[caret]!.indexOf('^') + 1 : 0, message: errorLine };
}

/** tsc --pretty false lines: "path(line,col): error TS1234: message", continuation lines indented. */
export function parseTscOutput(output: string, target: string, fileName: string, cwd = '/workspace'): Diagnostic[] {
  const found = new Findings(fileName);
  for (const line of output.split('\n')) {
    const located = /^(.+?)\((\d+),(\d+)\): (error|warning|message) (TS\d+): (.*)$/.exec(line);
    const global = /^(error|warning|message) (TS\d+): (.*)$/.exec(line);
    if (located) {
      const [, path, l, c, category, code, message] = located as unknown as [string, string, string, string, string, string, string];
      const file = posix.resolve(cwd, path) === target ? fileName : path;
      found.add(Number(l), Number(c), tscSeverity(category, code), code, message, file);
    } else if (global) {
      const [, category, code, message] = global as unknown as [string, string, string, string];
      found.add(0, 0, tscSeverity(category, code), code, message);
    } else if (/^\s+\S/.test(line) && found.list.length > 0) {
      const last = found.list.at(-1)!;
      last.message = `${last.message}\n${line.trim()}`.slice(0, MAX_MESSAGE_CHARS);
    }
  }
  return found.list;
}

function tscSeverity(category: string, code: string): Severity {
  if (category === 'message') return 'info';
  if (category === 'warning' || TSC_WARNINGS.has(code)) return 'warning';
  return 'error';
}

function javascriptAnalysis(language: 'javascript' | 'typescript', fileName: string, outputs: ReadonlyMap<string, Buffer>): Analysis {
  const found = new Findings(fileName);
  const target = `${JOB_DIR}/${fileName}`;
  let syntaxError = false;
  if (language === 'javascript') {
    const check = read(outputs, 'syntax.json', nodeCheck, found, 'syntax');
    if (check && check.exit_code !== 0) {
      const parsed = parseNodeCheck(check.stderr);
      syntaxError = parsed !== null;
      if (parsed) found.add(parsed.line, parsed.column, 'error', 'syntax', parsed.message);
      else found.note('capsule/tool-error', `node --check failed: ${check.stderr.trim().split('\n').at(-1) ?? `exit code ${check.exit_code}`}`);
    }
  } else {
    const tsc = read(outputs, 'tsc.json', tscResult, found, 'tsc');
    if (tsc) {
      const before = found.list.length;
      const reported = parseTscOutput(tsc.output, target, fileName);
      found.list.push(...reported);
      // TS1xxx are syntax errors; ESLint's parse error on the same spot would repeat them.
      syntaxError = reported.some((d) => /^TS1\d{3}$/.test(d.rule) && d.severity === 'error');
      if (tsc.exit_code !== 0 && found.list.length === before) {
        found.note('capsule/tool-error', `tsc failed without diagnostics: ${(tsc.stderr || tsc.output).trim().slice(0, 300) || `exit code ${tsc.exit_code}`}`);
      }
    }
  }
  const complexities: number[] = [];
  const status = read(outputs, 'eslint-status.json', eslintStatus, found, 'eslint');
  if (status?.skipped) {
    // With a syntax error in the TypeScript, ESLint cannot run and tsc has said why.
    if (!syntaxError) found.note('capsule/eslint-skipped', status.skipped);
  } else if (status && status.exit_code !== 0 && status.exit_code !== 1) {
    found.note('capsule/tool-error', `eslint failed (exit code ${status.exit_code}): ${(status.stderr ?? '').trim().split('\n')[0]?.slice(0, 300)}`);
  } else if (status) {
    for (const file of read(outputs, 'eslint.json', eslintReport, found, 'eslint') ?? []) {
      for (const m of file.messages) {
        const complexity = m.ruleId === 'complexity' ? /complexity of (\d+)/.exec(m.message) : null;
        if (complexity) complexities.push(Number(complexity[1]));
        // node --check or tsc already reported the same parse error.
        else if (m.fatal && syntaxError) continue;
        else if (m.fatal) found.add(m.line ?? 0, m.column ?? 0, 'error', 'syntax', m.message);
        else found.add(m.line ?? 0, m.column ?? 0, m.ruleId ? (m.severity >= 2 ? 'error' : 'warning') : 'info', m.ruleId ?? 'eslint', m.message);
      }
    }
  }
  const metrics = numbers(read(outputs, 'metrics.json', metricsFile, found, 'metrics'));
  if (status && !status.skipped && !syntaxError) Object.assign(metrics, complexityMetrics(complexities));
  return { diagnostics: sorted(found.list), metrics };
}

function complexityMetrics(scores: number[]): Record<string, number> {
  const avg = scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : 0;
  return { functions: scores.length, max_complexity: Math.max(0, ...scores), avg_complexity: Math.round(avg * 100) / 100 };
}

function pythonAnalysis(fileName: string, outputs: ReadonlyMap<string, Buffer>): Analysis {
  const found = new Findings(fileName);
  const syntax = read(outputs, 'syntax.json', pySyntax, found, 'syntax');
  if (syntax && !syntax.ok) {
    found.add(syntax.line ?? 0, syntax.column ?? 0, 'error', 'syntax', syntax.message ?? 'the code does not compile');
  } else if (syntax) {
    for (const f of read(outputs, 'pyflakes.json', pyflakesReport, found, 'pyflakes') ?? []) {
      found.add(f.line, f.column, PYFLAKES_ERRORS.has(f.rule) ? 'error' : 'warning', f.rule, f.message);
    }
  }
  const metrics = numbers(read(outputs, 'metrics.json', metricsFile, found, 'metrics'));
  return { diagnostics: sorted(found.list), metrics };
}

function sorted(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list
    .filter((d) => {
      const key = JSON.stringify(d);
      return seen.has(key) ? false : (seen.add(key), true);
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}

/**
 * Turn the files an analysisPlan run left in /capsule-out (keys relative to it) into diagnostics on
 * the user's file and size/complexity metrics. A step that failed or wrote nothing becomes an
 * `info` diagnostic (rule capsule/...), never an exception.
 */
export function parseAnalysis(language: AnalysisLanguage, fileName: string, outputs: ReadonlyMap<string, Buffer>): Analysis {
  checkAnalysisFileName(language, fileName);
  return language === 'python' ? pythonAnalysis(fileName, outputs) : javascriptAnalysis(language, fileName, outputs);
}
