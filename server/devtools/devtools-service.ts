import { posix } from 'node:path';
import { InvalidInputError } from '../errors.js';
import type { RunResult } from '../sandbox/runs/run-result.js';
import type { CallOptions, SandboxService } from '../sandbox/sandbox-service.js';
import type { Workspaces } from '../sandbox/workspaces/workspace-service.js';
import { type AnalysisLanguage, analysisPlan } from './analysis-plan.js';
import { type Analysis, parseAnalysis } from './diagnostics.js';
import { detectFramework, JUNIT_FILE, parseJUnitXml, type TestFramework, type TestReport, testRunPlan } from './test-report.js';
import type { z } from 'zod';
import type { runSummaryObject } from '../schemas/run-outputs.js';

/** The part of a run result the dev tools report next to their own findings (its schema's type). */
export type RunSummary = z.infer<typeof runSummaryObject>;

export function runSummary(r: RunResult): RunSummary {
  return { run_id: r.run_id, status: r.status, exit_code: r.exit_code, duration_ms: r.duration_ms, stdout: r.stdout, stderr: r.stderr, truncated: r.truncated };
}

const CODE_FILE: Record<AnalysisLanguage, string> = { python: 'main.py', javascript: 'main.js', typescript: 'main.ts' };
const MAX_OUTPUT_BYTES = 16 << 20;

/** analyze_code and run_tests: both run inside a fresh sandbox; nothing here executes user code on the host. */
export class DevToolsService {
  constructor(private readonly deps: { sandbox: SandboxService; workspaces: Workspaces }) {}

  /** Syntax check, linter and metrics of a code block, or of a file in a workspace; the code itself is never run. */
  async analyzeCode(
    input: { language: AnalysisLanguage; code?: string; workspace_id?: string; path?: string; profile?: string; timeout_ms?: number },
    options: CallOptions & { owner: string },
  ): Promise<Analysis & { file: string; run: RunSummary }> {
    const { code, file } = await this.source(input, options.owner);
    const fileName = CODE_FILE[input.language];
    const plan = analysisPlan(input.language, fileName);
    const { result, outputs } = await this.deps.sandbox.runWithOutputs(
      { code: { language: input.language, code, ...(input.profile ? { profile: input.profile } : {}), timeout_ms: input.timeout_ms ?? 60_000 } },
      { files: plan.files.map((f) => ({ name: f.name, content: Buffer.from(f.content), mode: 0o444 })), argv: () => plan.argv },
      'analyzed',
      MAX_OUTPUT_BYTES,
      options,
    );
    const analysis = parseAnalysis(input.language, fileName, outputs);
    return {
      file,
      diagnostics: analysis.diagnostics.map((d) => (d.file === fileName ? { ...d, file } : d)),
      metrics: analysis.metrics,
      run: runSummary(result),
    };
  }

  /** Run a workspace's test suite (pytest or node's test runner) and parse its JUnit report. */
  async runTests(
    input: { workspace_id: string; framework?: 'auto' | TestFramework; path?: string; profile?: string; timeout_ms?: number },
    options: CallOptions & { owner: string },
  ): Promise<TestReport & { framework: TestFramework; report_error?: string; run: RunSummary }> {
    let framework = input.framework && input.framework !== 'auto' ? input.framework : null;
    if (!framework) {
      const listing = await this.deps.workspaces.listFiles(options.owner, input.workspace_id, input.path ?? '', true);
      framework = detectFramework(listing.entries.filter((e) => e.type === 'file').map((e) => e.path));
      if (!framework) {
        throw new InvalidInputError('no tests found to pick a framework (test_*.py, *_test.py, conftest.py, *.test.js/.ts or test/*.js); pass framework: "pytest" or "node"');
      }
    }
    const { argv } = testRunPlan(framework, input.path);
    const { result, outputs } = await this.deps.sandbox.runWithOutputs(
      { command: { command: argv.join(' '), workspace_id: input.workspace_id, ...(input.profile ? { profile: input.profile } : {}), ...(input.timeout_ms ? { timeout_ms: input.timeout_ms } : {}) } },
      { files: [], argv: () => argv },
      'tests',
      MAX_OUTPUT_BYTES,
      options,
    );
    const xml = outputs.get(JUNIT_FILE);
    if (!xml) {
      return { framework, passed: 0, failed: 0, skipped: 0, duration_ms: result.duration_ms, cases: [], report_error: `the test runner wrote no JUnit report (status ${result.status}, exit code ${result.exit_code}); see run.stderr`, run: runSummary(result) };
    }
    return { framework, ...parseJUnitXml(xml.toString('utf8')), run: runSummary(result) };
  }

  private async source(input: { code?: string; workspace_id?: string; path?: string }, owner: string): Promise<{ code: string; file: string }> {
    if (input.code !== undefined) {
      if (input.workspace_id !== undefined || input.path !== undefined) throw new InvalidInputError('give either code, or workspace_id and path');
      return { code: input.code, file: 'code' };
    }
    if (input.workspace_id === undefined || input.path === undefined) throw new InvalidInputError('give either code, or workspace_id and path');
    const f = await this.deps.workspaces.readFile(owner, input.workspace_id, input.path, 0, 1 << 20);
    if (!f.eof) throw new InvalidInputError(`${f.path} is ${f.size} bytes; analyze_code reads files up to 1 MiB`);
    return { code: f.content.toString('utf8'), file: posix.normalize(f.path) };
  }
}
