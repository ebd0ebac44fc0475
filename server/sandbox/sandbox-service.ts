import { InvalidInputError } from '../errors.js';
import type { ResultCache } from '../store/result-cache.js';
import { EngineStatus } from './engine-status.js';
import type { ProfileRegistry } from './profiles/profiles.js';
import { startThroughCache } from './runs/cached-run.js';
import type { RunHandle, StartOptions } from './runs/run-handle.js';
import {
  applyToolPlan,
  type CodeRunInput,
  type CommandRunInput,
  type PrepareContext,
  type PreparedRun,
  prepareCodeRun,
  prepareCommandRun,
  type ProfilerPlan,
  type ProfileRunInput,
  type WorkspaceRunInput,
} from './runs/run-request.js';
import type { RunResult } from './runs/run-result.js';
import { RunStarter, type RunStarterDeps } from './runs/run-starter.js';

export type { RunHandle, StartOptions } from './runs/run-handle.js';

/** Who asks, and how the run lives: a call that waits for it (default), or a background process. */
export interface CallOptions extends StartOptions {
  /** The token's name; "local" without authentication. */
  owner?: string;
  /** 'process': a background process's timeouts. Default 'run'. */
  mode?: 'run' | 'process';
}

export interface SandboxServiceDeps extends RunStarterDeps {
  profiles: ProfileRegistry;
  /** The opt-in result cache. */
  cache?: ResultCache;
}

/**
 * Runs commands and code blocks, each in its own fresh container. `start*` validates a call, starts
 * it and returns its RunHandle once the program runs; `run*` is start + wait, with the handle disposed
 * (container removed) before the result comes back.
 */
export class SandboxService {
  private readonly starter: RunStarter;
  /** Engine facts, readiness and start-up checks. */
  readonly engine: EngineStatus;

  constructor(private readonly deps: SandboxServiceDeps) {
    this.starter = new RunStarter(deps);
    this.engine = new EngineStatus({ ...deps, engines: this.starter.engines, runs: () => this.starter.counts() });
  }

  /** Start `/bin/sh -c command` in a fresh container. */
  async startCommand(input: CommandRunInput, options: CallOptions = {}): Promise<RunHandle> {
    const job = prepareCommandRun(input, this.deps.profiles, this.deps.config, await this.prepareContext(input, options));
    return this.startJob(job, input, options);
  }

  /** Start a code block (copied in as a file) in a fresh container. */
  async startCode(input: CodeRunInput, options: CallOptions = {}): Promise<RunHandle> {
    const job = prepareCodeRun(input, this.deps.profiles, this.deps.config, await this.prepareContext(input, options));
    return this.startJob(job, input, options);
  }

  /**
   * Start a tool around a code block or a command (profilers, the analyzer, test runners): the files
   * it writes to /capsule-out are the handle's outputs() after wait (each capped at `maxOutputBytes`).
   */
  async startWithOutputs(
    base: { code: ProfileRunInput; command?: never } | { command: CommandRunInput; code?: never },
    plan: ProfilerPlan,
    label: string,
    maxOutputBytes: number,
    options: CallOptions = {},
  ): Promise<RunHandle> {
    const { profiles, config } = this.deps;
    const prepared = base.code
      ? prepareCodeRun(base.code, profiles, config, await this.prepareContext(base.code, options))
      : prepareCommandRun(base.command!, profiles, config, await this.prepareContext(base.command!, options));
    return this.starter.start(applyToolPlan(prepared, plan, label), { ...options, outputs: { maxBytes: maxOutputBytes } });
  }

  /** Run `/bin/sh -c command` in a fresh container and return how it ended. */
  async runCommand(input: CommandRunInput, options: CallOptions = {}): Promise<RunResult> {
    await using handle = await this.startCommand(input, options);
    return await handle.wait();
  }

  /** Run a code block in a fresh container and return how it ended. */
  async runCode(input: CodeRunInput, options: CallOptions = {}): Promise<RunResult> {
    await using handle = await this.startCode(input, options);
    return await handle.wait();
  }

  /** startWithOutputs + wait: the result and the tool's /capsule-out files. */
  async runWithOutputs(...args: Parameters<SandboxService['startWithOutputs']>): Promise<{ result: RunResult; outputs: ReadonlyMap<string, Buffer> }> {
    await using handle = await this.startWithOutputs(...args);
    const result = await handle.wait();
    return { result, outputs: handle.outputs() };
  }

  /** A run in flight on this server, by run id (its output log serves live readers). */
  live(runId: string): RunHandle | undefined {
    return this.starter.live(runId);
  }

  /** Resolves once a finished run's container and scratch volumes are removed (warm runs return their result first). */
  removed(runId: string): Promise<void> {
    return this.starter.removed(runId);
  }

  /** True when a container with these labels belongs to a run in flight here (the reaper's question). */
  ownsContainer(labels: Record<string, string>): boolean {
    return this.starter.ownsContainer(labels);
  }

  /** The per-stream output cap of a profile (live output stops there too). */
  outputCap(profile?: string): number {
    return this.deps.profiles.get(profile).outputMaxBytesPerStream;
  }

  /** The profiles and their effective limits, availability and runtime as of the last engine check. */
  listProfiles() {
    return this.deps.profiles.describeAll();
  }

  /** listProfiles after reading the engine's OCI runtimes again (an engine that does not answer keeps the last reading). */
  async currentProfiles() {
    await this.engine.refreshRuntimes().catch(() => undefined);
    return this.listProfiles();
  }

  /** Stop accepting runs, kill the ones in flight and wait (bounded) until their containers are removed. */
  shutdown(): Promise<void> {
    return this.starter.shutdown();
  }

  /** A prepared job through the cache when asked for; on a workspace, its `files` are written first. */
  private async startJob(job: PreparedRun, input: WorkspaceRunInput, options: CallOptions): Promise<RunHandle> {
    if (input.cache) {
      if (!this.deps.cache) throw new InvalidInputError('the result cache is not enabled on this server');
      return startThroughCache(job, this.deps.cache, this.deps.runtime, (j) => this.starter.start(j, options));
    }
    // On a workspace, files go in through the workspace service (paths, symlinks and quota checked).
    if (job.workspace && input.files?.length) await this.deps.workspaces!.writeFiles(job.owner, job.workspace.id, input.files);
    return this.starter.start(job, options);
  }

  private async prepareContext(input: WorkspaceRunInput, options: CallOptions): Promise<PrepareContext> {
    const ctx: PrepareContext = { ...(options.owner ? { owner: options.owner } : {}), ...(options.mode ? { mode: options.mode } : {}) };
    // A run before any engine check (services never started, an engine down at start-up) learns the runtimes once.
    if (!this.deps.profiles.engineRuntimes.known) await this.engine.refreshRuntimes().catch(() => undefined);
    if (input.workspace_id !== undefined) {
      if (!this.deps.workspaces) throw new InvalidInputError('workspaces are not available on this server');
      ctx.workspace = await this.deps.workspaces.volumeFor(options.owner ?? 'local', input.workspace_id);
    }
    return ctx;
  }
}
