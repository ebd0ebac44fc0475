import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { RuntimeFailureError, ShuttingDownError } from '../../errors.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import type { RunStore } from '../../store/run-store.js';
import { capsuleMetrics } from '../../telemetry/metrics.js';
import { withSpan } from '../../telemetry/tracing.js';
import { type InstanceIdentity, ownedBy } from '../container/labels.js';
import type { Engine } from '../engines/engine.js';
import { EngineSet } from '../engines/engine-set.js';
import { RunEngines } from './run-engines.js';
import type { EgressLease, EgressService } from '../egress/egress-service.js';
import { ConcurrencyLimiter } from '../limits/concurrency-limiter.js';
import { OwnerLimits } from '../limits/owner-limits.js';
import type { WarmContainer, WarmPool } from '../pool/warm-pool.js';
import type { BoundedVolumes } from '../volumes/bounded-volumes.js';
import { RunVolumes } from '../volumes/run-volumes.js';
import type { Workspaces } from '../workspaces/workspace-service.js';
import { afterExitSteps } from './after-exit.js';
import { ContainerRun, type ContainerRunContext } from './container-run.js';
import { linkSignals } from './linked-signal.js';
import { LiveRun, type LiveRunOptions } from './live-run.js';
import type { RunHandle, StartOptions } from './run-handle.js';
import type { PreparedRun } from './run-request.js';
import type { RunResult } from './run-result.js';
import { startRecorder } from './run-records.js';

export interface RunStarterDeps {
  runtime: ContainerRuntime;
  config: Config;
  log: Logger;
  instance: InstanceIdentity;
  /** Where every run is recorded; omitted in some unit tests. */
  store?: RunStore;
  /** Workspaces runs may mount; without it, workspace_id is refused. */
  workspaces?: Workspaces;
  /** Warm containers; without it every run takes the cold path. */
  pool?: WarmPool;
  /** Quota'd volumes for the runs' scratch /workspace and /capsule-out; without them those are anonymous (unbounded). */
  volumes?: BoundedVolumes;
  /** The egress proxy, when an egress profile is enabled. */
  egress?: EgressService;
  /** The engines runs are placed on; without it, one engine of `runtime`, `pool` and `volumes`. */
  engines?: EngineSet;
}

/**
 * Admission and start of runs: owner limits, the concurrency slot and its queue, a warm container or a
 * new one, its start. Owns every run in flight until its container is removed; shutdown kills them.
 */
export class RunStarter {
  private readonly limiter: ConcurrencyLimiter;
  private readonly ownerLimits: OwnerLimits;
  private readonly shutdownController = new AbortController();
  /** Each run in flight, until everything after it is done. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Run ids registered before their container is created, so the reaper never takes a live one. */
  private readonly liveRuns = new Set<string>();
  /** Removals done after the result is returned (warm containers, scratch volumes), with their run ids; shutdown waits for them. */
  private readonly pendingRemovals = new Map<Promise<void>, string>();
  private readonly handles = new Map<string, RunHandle>();
  /** Which engine each run goes to and runs on. */
  private readonly placement: RunEngines;

  constructor(private readonly deps: RunStarterDeps) {
    const { config } = deps;
    const max = config.CAPSULE_MAX_CONCURRENT;
    const queue = config.CAPSULE_MAX_QUEUE ?? max * 4;
    this.limiter = new ConcurrencyLimiter(max, queue);
    this.ownerLimits = new OwnerLimits(config.CAPSULE_OWNER_MAX_CONCURRENT ?? max + queue, config.CAPSULE_OWNER_RUNS_PER_MINUTE);
    const { runtime, pool, volumes } = deps;
    this.placement = new RunEngines(deps.engines ?? new EngineSet([{ name: 'default', labels: {}, runtime, ...(pool ? { pool } : {}), ...(volumes ? { volumes } : {}) }]));
  }

  /** Every engine runs go to. */
  get engines(): EngineSet {
    return this.placement.engines;
  }

  /** Slots in use, waiting and available right now. */
  counts(): { active: number; queued: number; max_concurrent: number } {
    return { active: this.limiter.inUse, queued: this.limiter.queued, max_concurrent: this.limiter.max };
  }

  /** A run in flight here, by run id (SSE of live runs). */
  live(runId: string): RunHandle | undefined {
    return this.handles.get(runId);
  }

  /** True when a container with these labels belongs to a run in flight here (the reaper's question). */
  ownsContainer(labels: Record<string, string>): boolean {
    return ownedBy(labels, ['run', 'pool'], this.liveRuns);
  }

  /** Start `job` and resolve once its program runs; before that, every failure throws and leaves nothing. */
  async start(job: PreparedRun, options: StartOptions = {}): Promise<RunHandle> {
    const shutdown = this.shutdownController.signal;
    if (shutdown.aborted) throw shutdown.reason;
    const leave = this.ownerLimits.enter(job.owner);
    const { signal, unlink } = linkSignals([options.signal, shutdown]);
    let release: (() => void) | null = null;
    try {
      release = await withSpan('sandbox.queue', { 'capsule.run_id': job.runId, 'capsule.queued': this.limiter.queued }, () => this.limiter.acquire(signal));
    } catch (err) {
      unlink();
      leave();
      throw err;
    }
    const done = () => {
      unlink();
      release?.();
      leave();
    };
    let settled!: () => void;
    const tracked = new Promise<void>((resolve) => (settled = resolve));
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
    try {
      return await this.placement.launchSomewhere(job, () =>
        this.launch(job, options, signal, () => {
          done();
          settled();
        }),
      );
    } catch (err) {
      done();
      settled();
      throw err;
    }
  }

  private deferRemoval = (runId: string) => (removal: Promise<void>) => {
    this.pendingRemovals.set(removal, runId);
    void removal.finally(() => this.pendingRemovals.delete(removal));
  };

  /** Resolves once what is removed after a run's result (its warm container, scratch volumes) is gone; at once when nothing is pending. */
  async removed(runId: string): Promise<void> {
    await Promise.allSettled([...this.pendingRemovals].filter(([, id]) => id === runId).map(([removal]) => removal));
  }

  /** A warm container for this run when it can use one: no files, workspace, collect or narrowed limits. */
  private takeWarm(job: PreparedRun, engine: Engine): WarmContainer | null {
    const { pool } = engine.parts;
    if (!pool || job.workspace || job.workspaceFiles.length || job.collect.length || job.outputDir) return null;
    const { profile, limits } = job;
    if (limits.memoryBytes !== profile.memoryBytes || limits.cpus !== profile.cpus || limits.pids !== profile.pidsLimit) return null;
    return pool.take(profile);
  }

  /** The run's engine, a warm container there when one fits, and the job as it will run. */
  private placed(queued: PreparedRun, options: StartOptions): { engine: Engine; warm: WarmContainer | null; job: PreparedRun } {
    const engine = this.placement.engineFor(queued);
    const warm = this.takeWarm(queued, engine);
    // A warm container was created for a run id of its own: the run adopts it, so labels and records agree.
    // A call that returns a capped result lets the launcher drop what lies between head and tail in the
    // container; not a background process (its log keeps every byte), nor without a kill grace (a bare
    // SIGKILL would take the launcher's kept tail with it).
    const launcherOutputCap = options.processId === undefined && this.deps.config.CAPSULE_KILL_GRACE_MS > 0 ? queued.profile.outputMaxBytesPerStream : null;
    return { engine, warm, job: { ...queued, launcherOutputCap, engine: engine.name, ...(warm ? { runId: warm.runId } : {}) } };
  }

  /** Take or create the container and start it; `finished` runs once the run (or its failed start) is over. */
  private async launch(queued: PreparedRun, options: StartOptions, signal: AbortSignal, finished: () => void): Promise<RunHandle> {
    const { engine, warm, job } = this.placed(queued, options);
    const { pool, runtime } = engine.parts;
    const unhold = engine.hold({ cpus: job.limits.cpus, memoryBytes: job.limits.memoryBytes });
    let untrack = () => {};
    this.liveRuns.add(job.runId);
    capsuleMetrics.runsActive.add(1, { profile: job.profile.name, engine: engine.name });
    const record = startRecorder(this.deps.store, job, options, warm !== null);
    const end = (runFinished = true) => {
      if (warm) pool?.release(warm);
      unhold();
      untrack();
      this.liveRuns.delete(job.runId);
      this.handles.delete(job.runId);
      capsuleMetrics.runsActive.add(-1, { profile: job.profile.name, engine: engine.name });
      // A failed start is the caller's to finish (start() releases the slot, or the next engine is tried).
      if (runFinished) finished();
    };
    const ctx: ContainerRunContext = { runtime, log: this.deps.log, instance: this.deps.instance, killGraceMs: this.deps.config.CAPSULE_KILL_GRACE_MS, deferRemoval: this.deferRemoval(job.runId) };
    let scratch: RunVolumes | null = null;
    let container: ContainerRun | null = null;
    let lease: EgressLease | null = null;
    const createStarted = performance.now();
    try {
      lease = await this.egressLease(job);
      scratch = warm ? null : await this.scratchVolumes(job, engine);
      // On the warm path the container already exists: the span records taking it (capsule.warm=true).
      container = await withSpan('sandbox.create', { 'capsule.run_id': job.runId, 'capsule.profile': job.profile.name, 'capsule.warm': warm !== null, 'capsule.engine': engine.name }, async () =>
        warm ? ContainerRun.fromWarm(ctx, job, warm) : ContainerRun.create(ctx, job, scratch, lease?.placement ?? null),
      );
      const run = container;
      const held = { scratch, lease };
      const settle = async (result: RunResult) => {
        try {
          record();
          this.finished(job, run, warm !== null, result);
          await this.removeRun(engine, run, held.scratch, job.runId);
        } finally {
          held.lease?.release();
          end();
        }
      };
      const handle = await LiveRun.begin(run, this.liveOptions(job, runtime, options, signal, held, settle));
      record();
      untrack = this.placement.track(engine, handle);
      capsuleMetrics.containerStart.record(performance.now() - createStarted, { profile: job.profile.name, path: warm ? 'warm' : 'cold', engine: engine.name });
      if (!warm) pool?.retryNow(); // a cold start proves the engine works: a pool in backoff retries now
      this.handles.set(job.runId, handle);
      return handle;
    } catch (err) {
      record();
      this.deps.store?.recordAbandoned(job.runId, err instanceof Error ? err.message : String(err));
      await container?.[Symbol.asyncDispose]();
      await scratch?.[Symbol.asyncDispose]();
      lease?.release();
      end(false);
      if (err !== signal.reason) this.placement.startFailed(err, engine);
      throw err;
    }
  }

  /** A finished run's container, then its scratch volumes; on an engine marked down the result goes back first (the removal waits for the engine, or its reaper does it). */
  private async removeRun(engine: Engine, run: ContainerRun, scratch: RunVolumes | null, runId: string): Promise<void> {
    const removal = run[Symbol.asyncDispose]().then(() => scratch?.[Symbol.asyncDispose]());
    if (engine.facts.reachable || !this.engines.many) await removal;
    else this.deferRemoval(runId)(removal);
  }

  private liveOptions(job: PreparedRun, runtime: ContainerRuntime, options: StartOptions, signal: AbortSignal, held: { scratch: RunVolumes | null; lease: EgressLease | null }, settle: LiveRunOptions['settle']): LiveRunOptions {
    const { scratch, lease } = held;
    const { workspaces, config } = this.deps;
    return {
      runtime,
      log: this.deps.log,
      signal,
      stdinOpen: options.stdinOpen ?? false,
      retainBytes: options.retainBytes ?? job.profile.outputMaxBytesPerStream,
      afterExit: afterExitSteps({ runtime, ...(workspaces ? { workspaces } : {}), collectMaxBytes: config.CAPSULE_COLLECT_MAX_BYTES }, job, scratch, options.outputs?.maxBytes ?? null),
      ...(lease ? { network: () => lease.summary() } : {}),
      ...(this.engines.many && job.engine ? { engine: job.engine } : {}),
      settle,
    };
  }

  /** Metrics, the log line and the record of a run that ended. */
  private finished(job: PreparedRun, run: ContainerRun, warm: boolean, result: RunResult): void {
    if (result.status === 'timed_out') capsuleMetrics.timeouts.add(1, { profile: job.profile.name, engine: job.engine ?? 'default' });
    if (result.status === 'oom_killed') capsuleMetrics.oomKills.add(1, { profile: job.profile.name, engine: job.engine ?? 'default' });
    this.deps.log.info(
      { run_id: job.runId, container_id: run.id, engine: job.engine, owner: job.owner, what: job.summary, path: warm ? 'warm' : 'cold', status: result.status, exit_code: result.exit_code, duration_ms: result.duration_ms },
      'run finished',
    );
    this.deps.store?.recordFinished(result);
  }

  /** The run's registration with the egress proxy, for a profile with `egress` (null otherwise); made before the sandbox exists, so its first request is known. */
  private egressLease(job: PreparedRun): Promise<EgressLease | null> {
    if (!job.profile.egress) return Promise.resolve(null);
    const { egress } = this.deps;
    if (!egress) return Promise.reject(new RuntimeFailureError(`profile ${job.profile.name} has egress, but this server runs no egress proxy`));
    return withSpan('egress.register', { 'capsule.run_id': job.runId, 'capsule.profile': job.profile.name }, () => egress.lease(job.runId, job.profile));
  }

  /** The quota'd scratch volumes a cold run needs (null: none needed, or disk quotas not enforced). */
  private scratchVolumes(job: PreparedRun, engine: Engine): Promise<RunVolumes | null> {
    const { config, instance, log } = this.deps;
    const volumes = engine.parts.volumes;
    if (!volumes) return Promise.resolve(null);
    const ctx = { volumes, instance, log, outputMaxBytes: config.CAPSULE_ARTIFACT_MAX_BYTES, workspaceMaxFiles: config.CAPSULE_WORKSPACE_MAX_FILES, deferRemoval: this.deferRemoval(job.runId) };
    return RunVolumes.create(ctx, job);
  }

  /** Stop accepting runs, kill the ones in flight and wait (bounded) until their containers are removed. */
  async shutdown(): Promise<void> {
    if (!this.shutdownController.signal.aborted) this.shutdownController.abort(new ShuttingDownError('the server is shutting down'));
    const pending = [...this.inFlight];
    await Promise.all(this.engines.all().map((e) => e.parts.pool?.close()));
    if (pending.length) this.deps.log.info({ runs: pending.length }, 'waiting for in-flight runs to be removed');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.deps.config.CAPSULE_SHUTDOWN_TIMEOUT_MS)));
    await Promise.race([Promise.allSettled(pending).then(() => Promise.allSettled([...this.pendingRemovals.keys()])), timeout]);
    clearTimeout(timer);
  }
}
