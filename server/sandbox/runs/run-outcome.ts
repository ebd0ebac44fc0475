import type { OutputChunk, OutputStream } from '../../runtime/container-runtime.js';
import type { LauncherExit, LauncherStats } from '../container/launcher-protocol.js';
import { OutputBuffer } from './output-buffer.js';
import type { PreparedRun } from './run-request.js';
import { type RunResult, type RunStatus, signalFromExitCode, signalName } from './run-result.js';
import { EMPTY_STATS, toRunStats } from './run-stats.js';

/** Why a run whose container ended with no exit report from its launcher, and no stop by Capsule, failed. */
function launcherVanished(code: number, runtime: string): string {
  const why =
    runtime === 'runsc'
      ? "gVisor's kernel (the Sentry) stopped: e.g. at the container's pids limit, which counts gVisor's own threads too"
      : 'something other than Capsule killed the launcher (docker kill, or the program killed it)';
  return `the container ended (engine exit code ${code}) without the launcher reporting how the program ended: ${why}`;
}

export type EndReason = { kind: 'timeout' } | { kind: 'cancelled'; why: string };

/**
 * Everything a run learns while it runs (output, accounting, how it ended), turned into the one
 * honest result at the end. Precedence: out of memory, then timeout, then cancellation, then an
 * engine failure mid-run, then a stop Capsule did not send (the engine shutting down, `docker stop`),
 * else a normal exit.
 */
export class RunOutcome {
  readonly stdout: OutputBuffer;
  readonly stderr: OutputBuffer;
  stats: LauncherStats | null = null;
  exit: LauncherExit | null = null;
  /** Exit code and OOM flag from the engine, when the launcher could not report them. */
  engineExit: { code: number; oomKilled: boolean } | null = null;
  end: EndReason | null = null;
  failure: string | null = null;
  /** Who ended the container when it was not Capsule (a termination signal Capsule never sent). */
  stoppedOutside: string | null = null;
  startedAt = Date.now();
  extra: Partial<RunResult> = {};

  constructor(private readonly job: PreparedRun) {
    this.stdout = new OutputBuffer(job.profile.outputMaxBytesPerStream);
    this.stderr = new OutputBuffer(job.profile.outputMaxBytesPerStream);
  }

  output(chunk: OutputChunk): void {
    (chunk.stream === 'stdout' ? this.stdout : this.stderr).write(chunk.data);
  }

  /** The launcher dropped `bytes` of `stream` in the container (past its cap). */
  skipped(stream: OutputStream, bytes: number): void {
    (stream === 'stdout' ? this.stdout : this.stderr).skip(bytes);
  }

  result(): RunResult {
    const { job, exit, engineExit, end } = this;
    const exitCode = exit ? exit.exit_code : (engineExit?.code ?? null);
    const oom = (exit?.oom_kills ?? 0) > 0 || (this.stats?.oom_kills ?? 0) > 0 || engineExit?.oomKilled === true;
    let status: RunStatus = 'exited';
    let error: string | undefined;
    if (oom) status = 'oom_killed';
    else if (end?.kind === 'timeout') status = 'timed_out';
    else if (end?.kind === 'cancelled') {
      status = 'killed';
      error = end.why;
    } else if (this.failure !== null || this.stoppedOutside !== null) {
      status = 'failed';
      error = this.failure ?? this.stoppedOutside!;
    } else if (!exit && engineExit) {
      status = 'failed';
      error = launcherVanished(engineExit.code, job.runtime);
    }
    const signal = exit && exit.signal > 0 ? signalName(exit.signal) : signalFromExitCode(exitCode) ?? (end ? 'SIGKILL' : null);
    return {
      run_id: job.runId,
      status,
      exit_code: exitCode,
      signal,
      stdout: this.stdout.text(),
      stderr: this.stderr.text(),
      stdout_bytes: this.stdout.totalBytes,
      stderr_bytes: this.stderr.totalBytes,
      truncated: this.stdout.truncated || this.stderr.truncated,
      duration_ms: exit ? exit.elapsed_ms : Date.now() - this.startedAt,
      profile: job.profile.name,
      image: job.profile.image,
      runtime: job.runtime,
      engine: job.engine ?? 'default',
      stats: this.stats ? toRunStats(this.stats) : EMPTY_STATS,
      ...(error ? { error } : {}),
      ...this.extra,
    };
  }
}
