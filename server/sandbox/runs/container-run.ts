import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { RuntimeFailureError } from '../../errors.js';
import type { AttachedIo, ContainerRuntime } from '../../runtime/container-runtime.js';
import { withSpan } from '../../telemetry/tracing.js';
import { buildContainerSpec } from '../container/container-spec.js';
import { type InstanceIdentity, runLabels } from '../container/labels.js';
import type { EgressPlacement } from '../egress/egress-service.js';
import { JOB_DIR } from '../container/languages.js';
import { encodeJob } from '../container/launcher-protocol.js';
import { packTar } from '../container/tar.js';
import type { WarmContainer } from '../pool/warm-pool.js';
import type { RunVolumes } from '../volumes/run-volumes.js';
import { tarOfFiles } from '../workspaces/workspace-files.js';
import type { JobFile, PreparedRun } from './run-request.js';

export interface ContainerRunContext {
  runtime: ContainerRuntime;
  log: Logger;
  instance: InstanceIdentity;
  killGraceMs: number;
  /** Where a warm run hands its container removal, so the result does not wait for it. */
  deferRemoval?: (removal: Promise<void>) => void;
}

/** How long a warm run's removal waits for its result to be sent. */
const REMOVE_AFTER_RESULT_MS = 30;

/** Code files for /capsule: owned by root, so the sandbox user can read but not change them. */
function tarOf(files: JobFile[]) {
  return packTar(files.map((f) => ({ type: 'file' as const, name: f.name, mode: f.mode, uid: 0, gid: 0, content: f.content })));
}

/**
 * The container of one run: created (cold) or taken from the pool (warm), started once, signalled,
 * removed on disposal on every path. It knows nothing of results; LiveRun drives it.
 */
export class ContainerRun implements AsyncDisposable {
  private removed = false;
  /** Signals Capsule itself sent (timeout, cancel, shutdown, kill_process): any other stop came from outside. */
  private readonly sent = new Set<string>();

  private constructor(
    private readonly ctx: ContainerRunContext,
    readonly job: PreparedRun,
    readonly id: string,
    readonly warm: WarmContainer | null = null,
  ) {}

  /** A warm container: already created, attached and started, its launcher waiting for a job on stdin. */
  static fromWarm(ctx: ContainerRunContext, job: PreparedRun, warm: WarmContainer): ContainerRun {
    return new ContainerRun(ctx, job, warm.id, warm);
  }

  /**
   * Create the container (never started) and copy the job's files in; on failure nothing is left behind.
   * `scratch`: the run's quota'd volumes (owned and removed by the caller, after this container);
   * `egress`: its place on the egress proxy's internal network (an egress profile's run).
   */
  static async create(ctx: ContainerRunContext, job: PreparedRun, scratch: RunVolumes | null, egress: EgressPlacement | null = null): Promise<ContainerRun> {
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
      ...(egress ? { egress } : {}),
      labels: runLabels({ runId: job.runId, kind: 'run', profile: job.profile.name, owner: job.owner, instance: ctx.instance }),
    });
    const run = new ContainerRun(ctx, job, await ctx.runtime.create(spec));
    try {
      if (job.jobFiles.length > 0) await run.putJobFiles();
      // With a workspace, files were written (quota and symlink checks included) by the workspace service.
      if (!job.workspace && job.workspaceFiles.length > 0) {
        await withSpan('files.put', { 'capsule.files': job.workspaceFiles.length, 'capsule.path': '/workspace' }, () =>
          ctx.runtime.putArchive(run.id, '/workspace', tarOfFiles(job.workspaceFiles)),
        );
      }
      return run;
    } catch (err) {
      await run[Symbol.asyncDispose]();
      throw err;
    }
  }

  /** Start the program: attach and start a cold container, or hand a warm one its job. */
  begin(): Promise<AttachedIo> {
    return withSpan('sandbox.start', { 'capsule.run_id': this.job.runId, 'container.id': this.id, 'capsule.warm': this.warm !== null }, () =>
      this.warm ? this.handOver(this.warm) : this.coldStart(),
    );
  }

  /** Send a signal to the container's init, which forwards it to the program. */
  signal(name: string): Promise<void> {
    this.sent.add(name);
    return this.ctx.runtime.kill(this.id, name);
  }

  /** True when Capsule sent this signal (any other termination came from outside). */
  sentByCapsule(name: string): boolean {
    return this.sent.has(name);
  }

  /**
   * SIGTERM to the container's init, then SIGKILL after the grace period: every process in it ends.
   * Returns the pending SIGKILL timer for the caller to clear once the run has ended.
   */
  terminate(): NodeJS.Timeout | undefined {
    const { killGraceMs, log } = this.ctx;
    const kill = (signal: string) => this.signal(signal).catch((err) => log.warn({ container_id: this.id, err }, `kill ${signal} failed`));
    if (killGraceMs <= 0) {
      void kill('SIGKILL');
      return undefined;
    }
    void kill('SIGTERM');
    return setTimeout(() => void kill('SIGKILL'), killGraceMs);
  }

  /** Exit code and OOM flag from the engine, for a run whose launcher could not report them. */
  async engineExit(): Promise<{ code: number; oomKilled: boolean }> {
    const code = await this.ctx.runtime.wait(this.id);
    let { oomKilled } = await this.ctx.runtime.inspect(this.id);
    // Under gVisor an OOM kill takes the whole sandbox, and the engine's OOM event can trail the exit
    // (an inspect right after the exit read false once in a few tries here, after 100 ms never).
    if (!oomKilled && code === 137) {
      await new Promise((r) => setTimeout(r, 200));
      ({ oomKilled } = await this.ctx.runtime.inspect(this.id));
    }
    return { code, oomKilled };
  }

  private async coldStart(): Promise<AttachedIo> {
    const io = await this.ctx.runtime.attach(this.id);
    await this.ctx.runtime.start(this.id);
    return io;
  }

  /** Give a warm container its job: code files into /capsule, then the job header on the launcher's stdin. */
  private async handOver(warm: WarmContainer): Promise<AttachedIo> {
    const { job } = this;
    if (job.jobFiles.length > 0) await this.putJobFiles();
    if (!warm.io.stdin) throw new RuntimeFailureError('warm container has no stdin');
    // The launcher execs with exactly this environment, so the image's defaults come first.
    const env = { ...warm.imageEnv, ...job.profile.env, ...job.env };
    warm.io.stdin.write(encodeJob({ cwd: job.workdir, argv: job.argv, env, outputCap: job.launcherOutputCap ?? null }));
    return warm.io;
  }

  private putJobFiles(): Promise<void> {
    const files = this.job.jobFiles;
    return withSpan('files.put', { 'capsule.files': files.length, 'capsule.path': JOB_DIR }, () => this.ctx.runtime.putArchive(this.id, JOB_DIR, tarOf(files)));
  }

  /** Remove the container and its anonymous volumes. Safe to call more than once. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    if (this.warm && this.ctx.deferRemoval) {
      // A warm run's result goes back at once; its container is removed right after (shutdown waits),
      // once the result is on its way: the engine's removal work competed with sending it.
      this.warm.io.destroy();
      this.ctx.deferRemoval(delay(REMOVE_AFTER_RESULT_MS).then(() => this.removeNow()));
      return;
    }
    await this.removeNow();
  }

  private async removeNow(): Promise<void> {
    try {
      await withSpan('sandbox.remove', { 'capsule.run_id': this.job.runId, 'container.id': this.id }, () => this.ctx.runtime.remove(this.id));
    } catch (err) {
      // The engine is gone or refused: the reaper removes labelled leftovers later.
      this.ctx.log.error({ run_id: this.job.runId, container_id: this.id, err }, 'container removal failed');
    }
  }
}
