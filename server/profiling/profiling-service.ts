import { capsuleUri } from '../schemas/uris.js';
import type { Logger } from 'pino';
import { InvalidInputError } from '../errors.js';
import type { ProfilerPlan, ProfileRunInput } from '../sandbox/runs/run-request.js';
import type { CallOptions, RunHandle, SandboxService } from '../sandbox/sandbox-service.js';
import type { ArtifactStore } from '../store/artifact-store.js';
import { withSpan } from '../telemetry/tracing.js';
import { CPROFILE_RUNNER, CPROFILE_RUNNER_NAME } from './cprofile-runner.js';
import { flamegraphHtml, treeFromFolded } from './flamegraph-html.js';
import { flameFromTicks, type TickNode, topFromTickTree } from './top-frames.js';
import type { z } from 'zod';
import type { profileCodeOutput, profileReportObject } from '../schemas/profiling-outputs.js';

export const PROFILE_LANGUAGES = ['javascript', 'typescript', 'python'] as const;

/** The profile part of a profile_code result. */
export type ProfileReport = z.infer<typeof profileReportObject>;

/** profile_code's result: the run result with the report as `profile` and the sandbox profile as `sandbox_profile`. */
export type ProfiledResult = z.infer<typeof profileCodeOutput>;

// 0x exits 0 whatever the program did; this preload records the program's own exit code for the result.
const EXIT_CODE_RECORDER = { name: 'capsule_exit_code.cjs', content: Buffer.from("process.on('exit', (code) => require('fs').writeFileSync('/capsule-out/exit-code', String(code)));\n"), mode: 0o444 };

// 0x runs node with --prof and turns the V8 tick log into a flame graph; --tree-debug also writes the tick tree.
const zeroX: ProfilerPlan = {
  files: [EXIT_CODE_RECORDER],
  argv: ([node, ...rest]) => ['0x', '--quiet', '--tree-debug', '--output-dir', '/capsule-out/0x', '--', node!, '--require', `/capsule/${EXIT_CODE_RECORDER.name}`, ...rest],
};

const plans: Record<(typeof PROFILE_LANGUAGES)[number], ProfilerPlan> = {
  javascript: zeroX,
  typescript: zeroX,
  python: {
    files: [{ name: CPROFILE_RUNNER_NAME, content: Buffer.from(CPROFILE_RUNNER), mode: 0o444 }],
    argv: (a) => ['python3', `/capsule/${CPROFILE_RUNNER_NAME}`, ...a.slice(1)],
  },
};

/** The profiled language, or invalid_input naming the ones profile_code supports. */
function languageOf(input: ProfileRunInput): keyof typeof plans {
  if (!(input.language in plans)) throw new InvalidInputError(`profile_code supports ${PROFILE_LANGUAGES.join(', ')}; got "${input.language}"`);
  return input.language as keyof typeof plans;
}

/** Runs code under a profiler in a sandbox and keeps the flame graph and profile as artifacts. */
export class ProfilingService {
  constructor(
    private readonly deps: { sandbox: SandboxService; artifacts: ArtifactStore; log: Logger; maxArtifactBytes: number },
  ) {}

  /**
   * profile_code: the usual run result plus `profile` (the report; the sandbox profile's name moves to
   * `sandbox_profile`). A program that throws or a profiler that fails still returns its result.
   */
  async profileCode(input: ProfileRunInput, options: CallOptions & { owner: string }): Promise<ProfiledResult> {
    await using handle = await this.start(input, options);
    return await this.report(input, handle, options.owner);
  }

  /** Start the code under its language's profiler (the handle's output streams while it runs). */
  start(input: ProfileRunInput, options: CallOptions): Promise<RunHandle> {
    return this.deps.sandbox.startWithOutputs({ code: input }, plans[languageOf(input)], 'profiled', this.deps.maxArtifactBytes, options);
  }

  /** Wait for a profiled run and turn the profiler's outputs into artifacts and the report. */
  async report(input: ProfileRunInput, handle: RunHandle, owner: string): Promise<ProfiledResult> {
    const tool = languageOf(input) === 'python' ? 'cprofile' : '0x';
    const result = await handle.wait();
    const outputs = handle.outputs();
    const options = { owner };
    const recorded = outputs.get('exit-code')?.toString('utf8');
    if (recorded !== undefined && /^\d+$/.test(recorded) && result.status === 'exited') {
      result.exit_code = Number(recorded);
      result.signal = null;
    }
    let profile: ProfileReport;
    try {
      profile = await withSpan(`profile.${tool}`, { 'capsule.run_id': result.run_id }, async () =>
        tool === '0x' ? this.fromZeroX(result.run_id, options.owner, outputs) : this.fromCProfile(result.run_id, options.owner, outputs),
      );
    } catch (err) {
      profile = { tool, flamegraph_uri: null, profile_uri: null, top: [], error: (err as Error).message };
    }
    const { profile: sandboxProfile, ...rest } = result;
    return { ...rest, sandbox_profile: sandboxProfile, profile };
  }

  private fromZeroX(runId: string, owner: string, outputs: ReadonlyMap<string, Buffer>): ProfileReport {
    const html = outputs.get('0x/flamegraph.html');
    const stacksName = [...outputs.keys()].find((k) => /^0x\/stacks\.\d+\.json$/.test(k));
    if (!html || !stacksName) {
      throw new Error('0x produced no flame graph (the program may have exited before any sample, or 0x failed: see stderr)');
    }
    const stacks = JSON.parse(outputs.get(stacksName)!.toString('utf8')) as { merged: TickNode };
    const top = topFromTickTree(stacks.merged);
    this.deps.artifacts.put(runId, owner, 'flamegraph.html', html);
    this.deps.artifacts.put(runId, owner, 'profile.json', JSON.stringify({ tool: '0x', unit: 'ticks', top, tree: flameFromTicks(stacks.merged) }));
    return { tool: '0x', flamegraph_uri: capsuleUri.runArtifact(runId, 'flamegraph.html'), profile_uri: capsuleUri.runArtifact(runId, 'profile.json'), top };
  }

  private fromCProfile(runId: string, owner: string, outputs: ReadonlyMap<string, Buffer>): ProfileReport {
    const json = outputs.get('profile.json');
    if (!json) throw new Error('cProfile wrote no statistics (the program may have been killed before it ended)');
    const data = JSON.parse(json.toString('utf8')) as {
      total_time: number;
      functions: Array<{ function: string; file: string; line: number; tottime: number; cumtime: number }>;
      folded: Array<[string, number]>;
    };
    const total = data.total_time || 1e-9;
    const round = (x: number) => Math.round(x * 100) / 100;
    const top = data.functions.slice(0, 20).map((f) => ({
      function: f.function,
      file: f.file,
      line: f.line,
      self_pct: round((100 * f.tottime) / total),
      total_pct: round((100 * f.cumtime) / total),
    }));
    const tree = treeFromFolded(data.folded, 'all');
    const html = flamegraphHtml('cProfile flame graph', tree, 'time (µs, estimated from cProfile call edges)');
    this.deps.artifacts.put(runId, owner, 'flamegraph.html', html);
    this.deps.artifacts.put(runId, owner, 'profile.json', JSON.stringify({ tool: 'cprofile', unit: 'seconds', total_time: data.total_time, top, functions: data.functions, tree }));
    const pstats = outputs.get('profile.pstats');
    if (pstats) this.deps.artifacts.put(runId, owner, 'profile.pstats', pstats);
    return { tool: 'cprofile', flamegraph_uri: capsuleUri.runArtifact(runId, 'flamegraph.html'), profile_uri: capsuleUri.runArtifact(runId, 'profile.json'), top };
  }
}
