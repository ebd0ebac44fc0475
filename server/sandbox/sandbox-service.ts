import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { InvalidInputError, ShuttingDownError } from '../errors.js';
import { collectFiles } from './collect-files.js';
import type { WorkspaceService } from './workspace-service.js';
import type { WarmContainer, WarmPool } from './warm-pool.js';
import type { ResultCache } from '../store/result-cache.js';
import { runThroughCache } from './cached-run.js';
import type { ContainerRuntime, OutputChunk } from '../runtime/container-runtime.js';
import { EngineStatus } from './engine-status.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';
import type { InstanceIdentity } from './container-spec.js';
import { OwnerLimits } from './owner-limits.js';
import { describeProfile, type ProfileRegistry } from './profiles.js';
import {
  type CodeRunInput,
  type CommandRunInput,
  type PrepareContext,
  type PreparedRun,
  prepareCodeRun,
  prepareCommandRun,
  applyToolPlan,
  type ProfilerPlan,
  type ProfileRunInput,
  type WorkspaceRunInput,
} from './run-request.js';
import { OUTPUT_DIR } from './container-spec.js';
import { capsuleMetrics } from '../telemetry/metrics.js';
import { activeTraceIds, withSpan } from '../telemetry/tracing.js';
import { readRange, tarEntries } from './tar-entries.js';
import type { RunResult } from './run-result.js';
import { type ExecuteOptions, SandboxRun } from './sandbox-run.js';
import type { RunStore } from '../store/run-store.js';
import type { BoundedVolumes } from './bounded-volumes.js';
import { RunVolumes } from './run-volumes.js';

export interface RunCallOptions extends Omit<ExecuteOptions, 'signal'> {
  signal?: AbortSignal;
  /** Who is calling (token name); "local" without authentication. */
  owner?: string;
  /** 'process' for background processes (their own timeouts); default 'run'. */
  mode?: 'run' | 'process';
  /** Called once the run passed validation, before it waits for a slot. */
  onAccepted?: (job: PreparedRun) => void;
  /** Read more from the stopped container before removal (profiler artifacts). */
  afterExitExtra?: (containerId: string) => Promise<Partial<RunResult>>;
  processId?: string;
}

export interface SandboxServiceDeps {
  runtime: ContainerRuntime;
  profiles: ProfileRegistry;
  config: Config;
  log: Logger;
  instance: InstanceIdentity;
  /** Where every run is recorded; omitted in some unit tests. */
  store?: RunStore;
  /** Workspaces runs may mount; without it, workspace_id is refused. */
  workspaces?: WorkspaceService;
  /** Warm containers; without it every run takes the cold path. */
  pool?: WarmPool;
  /** The opt-in result cache. */
  cache?: ResultCache;
  /** Quota'd volumes for the runs' scratch /workspace and /capsule-out; without them those are anonymous (unbounded). */
  volumes?: BoundedVolumes;
}

/** Runs commands and code blocks, each in its own fresh container; owns the in-flight runs. */
export class SandboxService {
  private readonly limiter: ConcurrencyLimiter;
  private readonly ownerLimits: OwnerLimits;
  private readonly shutdownController = new AbortController();
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Run ids registered before their container is created, so the reaper never takes a live one. */
  private readonly liveRuns = new Set<string>();
  /** Removals of warm containers, done after the result is returned; shutdown waits for them. */
  private readonly pendingRemovals = new Set<Promise<void>>();

  /** Engine facts, readiness and start-up checks. */
  readonly engine: EngineStatus;

  constructor(private readonly deps: SandboxServiceDeps) {
    const { config } = deps;
    const max = config.CAPSULE_MAX_CONCURRENT;
    const queue = config.CAPSULE_MAX_QUEUE ?? max * 4;
    this.limiter = new ConcurrencyLimiter(max, queue);
    this.engine = new EngineStatus({
      ...deps,
      runs: () => ({ active: this.limiter.inUse, queued: this.limiter.queued, max_concurrent: this.limiter.max }),
    });
    this.ownerLimits = new OwnerLimits(config.CAPSULE_OWNER_MAX_CONCURRENT ?? max + queue, config.CAPSULE_OWNER_RUNS_PER_MINUTE);
  }

  /** Run `/bin/sh -c command` in a fresh container. */
  async runCommand(input: CommandRunInput, options: RunCallOptions = {}): Promise<RunResult> {
    const job = prepareCommandRun(input, this.deps.profiles, this.deps.config, await this.prepareContext(input, options));
    if (input.cache) return this.cached(job, options);
    return this.execute(await this.withWorkspaceFiles(job, input), options);
  }

  /** Run a code block (copied in as a file) in a fresh container. */
  async runCode(input: CodeRunInput, options: RunCallOptions = {}): Promise<RunResult> {
    const job = prepareCodeRun(input, this.deps.profiles, this.deps.config, await this.prepareContext(input, options));
    if (input.cache) return this.cached(job, options);
    return this.execute(await this.withWorkspaceFiles(job, input), options);
  }

  /** A run through the result cache: replayed when the same owner ran the same inputs on the same image. */
  private cached(job: PreparedRun, options: RunCallOptions): Promise<RunResult> {
    if (!this.deps.cache) throw new InvalidInputError('the result cache is not enabled on this server');
    return runThroughCache(job, this.deps.cache, this.deps.runtime, (j) => this.execute(j, options));
  }

  /**
   * Run a tool around a code block or a command (profilers, the analyzer, test runners): the files it
   * writes to /capsule-out come back with the result (each capped at `maxOutputBytes`).
   */
  async runWithOutputs(
    base: { code: ProfileRunInput; command?: never } | { command: CommandRunInput; code?: never },
    plan: ProfilerPlan,
    label: string,
    maxOutputBytes: number,
    options: RunCallOptions = {},
  ): Promise<{ result: RunResult; outputs: Map<string, Buffer> }> {
    const { profiles, config } = this.deps;
    const prepared = base.code
      ? prepareCodeRun(base.code, profiles, config, await this.prepareContext(base.code, options))
      : prepareCommandRun(base.command!, profiles, config, await this.prepareContext(base.command!, options));
    const job = applyToolPlan(prepared, plan, label);
    const outputs = new Map<string, Buffer>();
    const collect = async (containerId: string) => {
      for await (const { header, stream } of tarEntries(await this.deps.runtime.getArchive(containerId, OUTPUT_DIR))) {
        const name = header.name.replace(/^capsule-out\/?/, '');
        if (!name || header.type !== 'file') continue;
        if ((header.size ?? 0) <= maxOutputBytes) outputs.set(name, await readRange(stream, 0, header.size ?? 0));
      }
      return {};
    };
    const result = await this.execute(job, { ...options, afterExitExtra: collect });
    return { result, outputs };
  }

  /** Run code under a profiler (see runWithOutputs). */
  runProfiled(input: ProfileRunInput, plan: ProfilerPlan, maxArtifactBytes: number, options: RunCallOptions = {}) {
    return this.runWithOutputs({ code: input }, plan, 'profiled', maxArtifactBytes, options);
  }

  private async prepareContext(input: WorkspaceRunInput, options: RunCallOptions): Promise<PrepareContext> {
    const ctx: PrepareContext = { ...(options.owner ? { owner: options.owner } : {}), ...(options.mode ? { mode: options.mode } : {}) };
    if (input.workspace_id !== undefined) {
      if (!this.deps.workspaces) throw new InvalidInputError('workspaces are not available on this server');
      ctx.workspace = await this.deps.workspaces.volumeFor(options.owner ?? 'local', input.workspace_id);
    }
    return ctx;
  }

  /** On a workspace, `files` go in through the workspace service first (paths, symlinks and quota checked). */
  private async withWorkspaceFiles(job: PreparedRun, input: WorkspaceRunInput): Promise<PreparedRun> {
    if (job.workspace && input.files?.length) await this.deps.workspaces!.writeFiles(job.owner, job.workspace.id, input.files);
    return job;
  }

  /** Collected files and workspace usage (a scratch /workspace's too), read after exit, before removal. */
  private afterExit(job: PreparedRun, scratch: RunVolumes | null, more?: RunCallOptions['afterExitExtra']): ((containerId: string) => Promise<Partial<RunResult>>) | undefined {
    const { workspaces, runtime, config } = this.deps;
    if (!job.collect.length && !job.workspace && !more && !scratch) return undefined;
    return async (containerId) => {
      // The usage helper runs while the files are read from the stopped container.
      const scratchUsage = scratch?.workspaceReport();
      scratchUsage?.catch(() => undefined);
      const extra: Partial<RunResult> = more ? await more(containerId) : {};
      if (job.collect.length) extra.files = await collectFiles(runtime, containerId, job.collect, config.CAPSULE_COLLECT_MAX_BYTES, job.workspace?.id ?? null);
      const scratchReport = await scratchUsage;
      if (scratchReport) extra.workspace = scratchReport;
      if (job.workspace && workspaces) {
        const quota = workspaces.quota;
        const usage = await workspaces.usageAfterRun(job.workspace, containerId, quota.bytes);
        extra.workspace = {
          workspace_id: job.workspace.id,
          ...usage,
          quota_bytes: quota.bytes,
          quota_files: quota.files,
          over_quota: usage.bytes > quota.bytes || usage.files > quota.files,
        };
      }
      return extra;
    };
  }

  /** The quota'd scratch volumes a cold run needs (null: none needed, or disk quotas not enforced). */
  private scratchVolumes(job: PreparedRun, deferRemoval: (removal: Promise<void>) => void): Promise<RunVolumes | null> {
    const { volumes, config, instance, log } = this.deps;
    if (!volumes) return Promise.resolve(null);
    const ctx = { volumes, instance, log, outputMaxBytes: config.CAPSULE_ARTIFACT_MAX_BYTES, workspaceMaxFiles: config.CAPSULE_WORKSPACE_MAX_FILES, deferRemoval };
    return RunVolumes.create(ctx, job);
  }

  /** True when a container with these labels belongs to a run in flight here (the reaper's question). */
  ownsContainer(labels: Record<string, string>): boolean {
    const kind = labels['capsule.kind'];
    return (kind === 'run' || kind === 'pool') && this.liveRuns.has(labels['capsule.run_id'] ?? '');
  }

  /** The per-stream output cap of a profile (live output stops there too). */
  outputCap(profile?: string): number {
    return this.deps.profiles.get(profile).outputMaxBytesPerStream;
  }

  /** The profiles and their effective limits. */
  listProfiles() {
    return this.deps.profiles.all().map(describeProfile);
  }

  /** Stop accepting runs, kill the ones in flight and wait (bounded) until their containers are removed. */
  async shutdown(): Promise<void> {
    if (!this.shutdownController.signal.aborted) {
      this.shutdownController.abort(new ShuttingDownError('the server is shutting down'));
    }
    const pending = [...this.inFlight];
    await this.deps.pool?.close();
    if (pending.length === 0) {
      await Promise.allSettled([...this.pendingRemovals]);
      return;
    }
    this.deps.log.info({ runs: pending.length }, 'waiting for in-flight runs to be removed');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.deps.config.CAPSULE_SHUTDOWN_TIMEOUT_MS);
    });
    await Promise.race([Promise.allSettled(pending).then(() => Promise.allSettled([...this.pendingRemovals])), timeout]);
    clearTimeout(timer);
  }

  private async execute(job: PreparedRun, options: RunCallOptions): Promise<RunResult> {
    const shutdown = this.shutdownController.signal;
    if (shutdown.aborted) throw shutdown.reason;
    const leave = this.ownerLimits.enter(job.owner);
    const signal = options.signal ? AbortSignal.any([options.signal, shutdown]) : shutdown;
    const work = this.runInSlot(job, { ...options, signal });
    this.inFlight.add(work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(work);
      leave();
    }
  }

  /** A warm container for this run when it can use one: no files, workspace, collect or narrowed limits. */
  private takeWarm(job: PreparedRun): WarmContainer | null {
    const { pool } = this.deps;
    if (!pool || job.workspace || job.workspaceFiles.length || job.collect.length || job.outputDir) return null;
    const { profile, limits } = job;
    if (limits.memoryBytes !== profile.memoryBytes || limits.cpus !== profile.cpus || limits.pids !== profile.pidsLimit) return null;
    return pool.take(profile);
  }

  private async runInSlot(queued: PreparedRun, options: RunCallOptions & { signal: AbortSignal }): Promise<RunResult> {
    const { signal } = options;
    const release = await withSpan('sandbox.queue', { 'capsule.run_id': queued.runId, 'capsule.queued': this.limiter.queued }, () => this.limiter.acquire(signal));
    const warm = this.takeWarm(queued);
    // A warm container was created for a run id of its own: the run adopts it, so labels and records agree.
    // A call that returns a capped result lets the launcher drop what lies between head and tail in the
    // container; not a background process (its log keeps every byte), nor without a kill grace (a bare
    // SIGKILL would take the launcher's kept tail with it).
    const launcherOutputCap = options.processId === undefined && this.deps.config.CAPSULE_KILL_GRACE_MS > 0 ? queued.profile.outputMaxBytesPerStream : null;
    const job = { ...queued, launcherOutputCap, ...(warm ? { runId: warm.runId } : {}) };
    const { store } = this.deps;
    this.liveRuns.add(job.runId);
    capsuleMetrics.runsActive.add(1, { profile: job.profile.name });
    // The trace of the call that started the run (the tool's or the HTTP request's span), for the dashboard's trace link.
    const trace_id = activeTraceIds().trace_id ?? null;
    store?.recordStarted({ run_id: job.runId, process_id: options.processId ?? null, kind: job.mode, owner: job.owner, profile: job.profile.name, summary: job.display, trace_id });
    options.onAccepted?.(job);
    try {
      const deferRemoval = (removal: Promise<void>) => {
        this.pendingRemovals.add(removal);
        void removal.finally(() => this.pendingRemovals.delete(removal));
      };
      const ctx = { runtime: this.deps.runtime, log: this.deps.log, instance: this.deps.instance, killGraceMs: this.deps.config.CAPSULE_KILL_GRACE_MS, deferRemoval };
      const createStarted = performance.now();
      // Declared before the run, so they are removed after its container (deferred: the result does not wait).
      await using scratch = warm ? null : await this.scratchVolumes(job, ctx.deferRemoval);
      // On the warm path the container already exists: the span records taking it (capsule.warm=true).
      await using run = await withSpan('sandbox.create', { 'capsule.run_id': job.runId, 'capsule.profile': job.profile.name, 'capsule.warm': warm !== null }, async () =>
        warm ? SandboxRun.fromWarm(ctx, job, warm) : SandboxRun.create(ctx, job, scratch),
      );
      const { onOutput, keepStdinOpen, onStarted, onStats } = options;
      const afterExit = this.afterExit(job, scratch, options.afterExitExtra);
      const result = await run.execute({
        signal,
        onContainerStarted: () => {
          capsuleMetrics.containerStart.record(performance.now() - createStarted, { profile: job.profile.name, path: warm ? 'warm' : 'cold' });
          if (!warm) this.deps.pool?.retryNow(); // a cold start proves the engine works: a pool in backoff retries now
        },
        ...(onOutput ? { onOutput } : {}),
        ...(keepStdinOpen ? { keepStdinOpen } : {}),
        ...(onStarted ? { onStarted } : {}),
        ...(onStats ? { onStats } : {}),
        ...(afterExit ? { afterExit } : {}),
      });
      if (result.status === 'timed_out') capsuleMetrics.timeouts.add(1, { profile: job.profile.name });
      if (result.status === 'oom_killed') capsuleMetrics.oomKills.add(1, { profile: job.profile.name });
      this.deps.log.info(
        { run_id: job.runId, container_id: run.containerId, owner: job.owner, what: job.summary, path: warm ? 'warm' : 'cold', status: result.status, exit_code: result.exit_code, duration_ms: result.duration_ms },
        'run finished',
      );
      store?.recordFinished(result);
      return result;
    } catch (err) {
      store?.recordAbandoned(job.runId, err instanceof Error ? err.message : String(err));
      throw err;
    } finally {
      if (warm) this.deps.pool?.release(warm);
      this.liveRuns.delete(job.runId);
      capsuleMetrics.runsActive.add(-1, { profile: job.profile.name });
      release();
    }
  }
}
