import type { Logger } from 'pino';
import { packTar } from '../container/tar.js';
import { InvalidInputError, RuntimeFailureError } from '../../errors.js';
import type { AttachedIo, ContainerRuntime, OutputChunk } from '../../runtime/container-runtime.js';
import { buildContainerSpec } from '../container/container-spec.js';
import { type InstanceIdentity, runLabels } from '../container/labels.js';
import { JOB_DIR } from '../container/languages.js';
import { encodeJob, launcherEvents } from '../container/launcher-protocol.js';
import type { WarmContainer } from '../pool/warm-pool.js';
import type { JobFile, PreparedRun } from './run-request.js';
import { type RunResult, signalName } from './run-result.js';
import { asCancellation, describeAbort, describeMidRunFailure, describeOutsideStop } from './run-interruption.js';
import { type EndReason, RunOutcome } from './run-outcome.js';
import { type RunStats, toRunStats } from './run-stats.js';
import type { RunVolumes } from '../volumes/run-volumes.js';
import { tarOfFiles } from '../workspaces/workspace-files.js';
import { withSpan } from '../../telemetry/tracing.js';

export interface RunContext {
  runtime: ContainerRuntime;
  log: Logger;
  instance: InstanceIdentity;
  killGraceMs: number;
  /** Where a warm run hands its container removal, so the result does not wait for it. */
  deferRemoval?: (removal: Promise<void>) => void;
}

/** Controls of a started run, for background processes. */
export interface RunControls {
  /** Write to the process stdin (only when it was opened and not yet closed). */
  writeStdin(data: Buffer): Promise<void>;
  /** Close stdin (EOF). */
  endStdin(): void;
  /** Send a signal to the container's init, which forwards it to the program. */
  signal(name: string): Promise<void>;
}

export interface ExecuteOptions {
  /** Client cancellation and server shutdown; the wall timeout is added here. */
  signal?: AbortSignal;
  /** Called for each output chunk as it arrives (live streaming). Must not throw. */
  onOutput?: (chunk: OutputChunk) => void;
  /** Keep stdin open after the initial data (interactive processes); closed by controls.endStdin(). */
  keepStdinOpen?: boolean;
  /** Called once the container has started. */
  onStarted?: (controls: RunControls) => void;
  /** After the container stopped, before removal: extra result fields (collected files, workspace usage). */
  afterExit?: (containerId: string) => Promise<Partial<RunResult>>;
  /** Called with the launcher's periodic accounting (about once a second) and the final one. */
  onStats?: (stats: RunStats) => void;
  /** Called when the container has started (for the start-latency metric). */
  onContainerStarted?: () => void;
}

/** Code files for /capsule: owned by root, so the sandbox user can read but not change them. */
function tarOf(files: JobFile[]) {
  return packTar(files.map((f) => ({ type: 'file' as const, name: f.name, mode: f.mode, uid: 0, gid: 0, content: f.content })));
}

/**
 * One run in one brand-new container. The owner creates it with `SandboxRun.create`, calls `execute`
 * once, and disposes it (`await using`): disposal removes the container on every path.
 */
export class SandboxRun implements AsyncDisposable {
  private removed = false;
  /** Signals Capsule itself sent (timeout, cancel, shutdown, kill_process): any other stop came from outside. */
  private readonly sent = new Set<string>();

  private constructor(
    private readonly ctx: RunContext,
    readonly job: PreparedRun,
    readonly containerId: string,
    private readonly warm: WarmContainer | null = null,
  ) {}

  /**
   * A run on a warm container: already created, attached and started, its launcher waiting for a job.
   * Nothing to create; the job is handed over on stdin by `execute`.
   */
  static fromWarm(ctx: RunContext, job: PreparedRun, warm: WarmContainer): SandboxRun {
    return new SandboxRun(ctx, job, warm.id, warm);
  }

  /**
   * Create the container (never started) and copy the job's files in; on failure nothing is left behind.
   * `scratch`: the run's quota'd volumes (owned and removed by the caller, after this run).
   */
  static async create(ctx: RunContext, job: PreparedRun, scratch?: RunVolumes | null): Promise<SandboxRun> {
    const spec = buildContainerSpec({
      profile: job.profile,
      limits: job.limits,
      argv: job.argv,
      outputCap: job.launcherOutputCap ?? null,
      env: job.env,
      workdir: job.workdir,
      openStdin: job.stdin !== null,
      withJobDir: job.jobFiles.length > 0,
      withOutputDir: job.outputDir,
      workspaceMount: job.workspace
        ? { volume: job.workspace.volume, workspaceId: job.workspace.id, ...(job.workspace.driverOptions ? { driverOptions: job.workspace.driverOptions } : {}) }
        : job.workspaceFiles.length > 0 || job.collect.length > 0
          ? { volume: null }
          : null,
      ...(scratch ? { scratchMount: (target: string) => scratch.mount(target) } : {}),
      labels: runLabels({ runId: job.runId, kind: 'run', profile: job.profile.name, owner: job.owner, instance: ctx.instance }),
    });
    const id = await ctx.runtime.create(spec);
    const run = new SandboxRun(ctx, job, id);
    try {
      if (job.jobFiles.length > 0) {
        await withSpan('files.put', { 'capsule.files': job.jobFiles.length, 'capsule.path': JOB_DIR }, () => ctx.runtime.putArchive(id, JOB_DIR, tarOf(job.jobFiles)));
      }
      // With a workspace, files were written (quota and symlink checks included) by the workspace service.
      if (!job.workspace && job.workspaceFiles.length > 0) {
        await withSpan('files.put', { 'capsule.files': job.workspaceFiles.length, 'capsule.path': '/workspace' }, () =>
          ctx.runtime.putArchive(id, '/workspace', tarOfFiles(job.workspaceFiles)),
        );
      }
      return run;
    } catch (err) {
      await run[Symbol.asyncDispose]();
      throw err;
    }
  }

  /** Start the container, stream its output into bounded buffers, enforce the timeout, and report how it ended. */
  async execute(options: ExecuteOptions = {}): Promise<RunResult> {
    const { runtime } = this.ctx;
    const { job } = this;
    const outcome = new RunOutcome(job);
    let started = false;
    let io: AttachedIo | null = null;
    let timer: NodeJS.Timeout | undefined;
    const killTimers: NodeJS.Timeout[] = [];
    const stop = (reason: EndReason) => {
      if (outcome.end) return;
      outcome.end = reason;
      this.terminate(killTimers);
    };
    const onAbort = () => stop({ kind: 'cancelled', why: describeAbort(options.signal?.reason) });

    try {
      if (options.signal?.aborted) throw asCancellation(options.signal.reason);
      const attached = await withSpan('sandbox.start', { 'capsule.run_id': job.runId, 'container.id': this.containerId, 'capsule.warm': this.warm !== null }, () =>
        this.warm ? this.handOver(this.warm) : this.coldStart(),
      );
      io = attached;
      started = true;
      options.onContainerStarted?.();
      outcome.startedAt = Date.now();
      timer = setTimeout(() => stop({ kind: 'timeout' }), job.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) onAbort();
      // Not inlined into `onStarted?.(...)`: optional calls skip evaluating their arguments.
      const controls = this.controls(io, options.keepStdinOpen ?? false);
      options.onStarted?.(controls);
      await withSpan('sandbox.wait', { 'capsule.run_id': job.runId }, async (span) => {
        await this.follow(attached, outcome, options);
        span.setAttribute('capsule.exit_code', outcome.exit?.exit_code ?? outcome.engineExit?.code ?? -1);
      });
      if (options.afterExit) {
        const afterExit = options.afterExit;
        try {
          outcome.extra = await withSpan('sandbox.collect', { 'capsule.run_id': job.runId }, () => afterExit(this.containerId));
        } catch (err) {
          this.ctx.log.warn({ run_id: job.runId, err }, 'collecting after the run failed');
          outcome.extra = { collect_error: (err as Error).message };
        }
      }
    } catch (err) {
      // Before the start nothing ran: the caller gets the error. After it, the partial output is the result.
      if (!started) throw err;
      outcome.failure = await describeMidRunFailure(runtime, err);
      this.ctx.log.warn({ run_id: job.runId, container_id: this.containerId, err }, 'run failed mid-way');
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      io?.destroy();
      killTimers.forEach(clearTimeout);
    }
    return outcome.result();
  }

  /** Read the launcher's frames until its exit frame (or the stream's end), then learn how the run ended. */
  private async follow(attached: AttachedIo, outcome: RunOutcome, options: ExecuteOptions): Promise<void> {
    const { runtime } = this.ctx;
    let launched = false;
    for await (const event of launcherEvents(attached.output)) {
      if (event.kind === 'started') launched = true;
      else if (event.kind === 'output') {
        outcome.output(event.chunk);
        options.onOutput?.(event.chunk);
      } else if (event.kind === 'skipped') {
        outcome.skipped(event.stream, event.bytes);
      } else if (event.kind === 'stats') {
        outcome.stats = event.stats;
        options.onStats?.(toRunStats(event.stats));
      } else if (event.kind === 'exit') {
        // The launcher's exit frame arrives ~100 ms before the engine notices the container stop.
        outcome.exit = event.exit;
        break;
      }
    }
    const by = outcome.exit?.terminated_by ?? 0;
    if (by > 0 && !outcome.end && !this.sent.has(signalName(by))) outcome.stoppedOutside = await describeOutsideStop(runtime, signalName(by));
    if (!outcome.exit) {
      if (this.warm && !launched) throw new RuntimeFailureError('the warm container ended before it took the job (the engine stopped it, or it was removed from outside Capsule)');
      // The launcher was killed (SIGKILL at a timeout, or by the program): ask the engine.
      const code = await runtime.wait(this.containerId);
      outcome.engineExit = { code, oomKilled: (await runtime.inspect(this.containerId)).oomKilled };
    }
  }

  private async coldStart(): Promise<AttachedIo> {
    const io = await this.ctx.runtime.attach(this.containerId);
    await this.ctx.runtime.start(this.containerId);
    return io;
  }

  /** Give a warm container its job: code files into /capsule, then the job header on the launcher's stdin. */
  private async handOver(warm: WarmContainer): Promise<AttachedIo> {
    const { job } = this;
    if (job.jobFiles.length > 0) {
      await withSpan('files.put', { 'capsule.files': job.jobFiles.length, 'capsule.path': JOB_DIR }, () => this.ctx.runtime.putArchive(this.containerId, JOB_DIR, tarOf(job.jobFiles)));
    }
    if (!warm.io.stdin) throw new RuntimeFailureError('warm container has no stdin');
    // The launcher execs with exactly this environment, so the image's defaults come first.
    const env = { ...warm.imageEnv, ...job.profile.env, ...job.env };
    warm.io.stdin.write(encodeJob({ cwd: job.workdir, argv: job.argv, env, outputCap: job.launcherOutputCap ?? null }));
    return warm.io;
  }

  /** Stdin and signal controls for a started run (background processes use them). */
  private controls(io: AttachedIo, keepStdinOpen: boolean): RunControls {
    const { stdin } = io;
    if (stdin) {
      // A process that exits without reading all of its stdin makes this write fail; that is its choice.
      stdin.on('error', () => undefined);
      if (keepStdinOpen) {
        if (this.job.stdin?.length) stdin.write(this.job.stdin);
      } else stdin.end(this.job.stdin ?? Buffer.alloc(0));
    }
    return {
      writeStdin: (data) =>
        new Promise<void>((resolve, reject) => {
          if (!stdin || stdin.writableEnded || stdin.destroyed) return reject(new InvalidInputError('stdin is not open for this process'));
          stdin.write(data, (err) => (err ? reject(err) : resolve()));
        }),
      endStdin: () => {
        if (stdin && !stdin.writableEnded) stdin.end();
      },
      signal: (name) => {
        this.sent.add(name);
        return this.ctx.runtime.kill(this.containerId, name);
      },
    };
  }

  /** SIGTERM to the container's init, then SIGKILL after the grace period: every process in it ends. */
  private terminate(timers: NodeJS.Timeout[]): void {
    const { runtime, killGraceMs, log } = this.ctx;
    const kill = (signal: string) => {
      this.sent.add(signal);
      return runtime.kill(this.containerId, signal).catch((err) => log.warn({ container_id: this.containerId, err }, `kill ${signal} failed`));
    };
    if (killGraceMs <= 0) {
      void kill('SIGKILL');
      return;
    }
    void kill('SIGTERM');
    timers.push(setTimeout(() => void kill('SIGKILL'), killGraceMs));
  }

  /** Remove the container and its anonymous volumes. Safe to call more than once. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    if (this.warm && this.ctx.deferRemoval) {
      // A warm run's result goes back at once; its container is removed right after (shutdown waits).
      this.warm.io.destroy();
      this.ctx.deferRemoval(this.removeNow());
      return;
    }
    await this.removeNow();
  }

  private async removeNow(): Promise<void> {
    try {
      await withSpan('sandbox.remove', { 'capsule.run_id': this.job.runId, 'container.id': this.containerId }, () => this.ctx.runtime.remove(this.containerId));
    } catch (err) {
      // The engine is gone or refused: the reaper removes labelled leftovers later.
      this.ctx.log.error({ run_id: this.job.runId, container_id: this.containerId, err }, 'container removal failed');
    }
  }
}
