import type { CollectedFile } from './collect-files.js';
import type { RunStats } from './run-stats.js';

/** How a run ended. */
export type RunStatus = 'exited' | 'timed_out' | 'oom_killed' | 'killed' | 'failed';

/** The honest outcome of one run: every field is always present. */
export interface RunResult {
  run_id: string;
  status: RunStatus;
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  stdout_bytes: number;
  stderr_bytes: number;
  truncated: boolean;
  duration_ms: number;
  profile: string;
  image: string;
  /** Why a run is `failed` or `killed` (engine error, cancellation, shutdown); absent otherwise. */
  error?: string;
  /** What the run cost (CPU, memory, processes, I/O, samples over time). */
  stats: RunStats;
  /**
   * For runs on a workspace, and runs whose /workspace was a quota'd scratch volume (workspace_id null):
   * its size after the run (bytes on disk, exact when disk quotas are enforced), and whether it is over quota.
   */
  workspace?: WorkspaceUsageReport;
  /** Files matched by `collect`. */
  files?: CollectedFile[];
  /** Why collecting files or workspace usage after the run failed. */
  collect_error?: string;
  /** Present when the call asked for the cache: true when this result was replayed from it. */
  cached?: boolean;
}

export interface WorkspaceUsageReport {
  /** null for the scratch /workspace of a run without a workspace (removed with the run). */
  workspace_id: string | null;
  bytes: number;
  files: number;
  quota_bytes: number;
  quota_files: number;
  over_quota: boolean;
}

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL',
  10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ',
};

/**
 * The signal that ended the process, read from the exit code: the init process (tini) and shells
 * report death by signal N as 128 + N. A program may also exit with such a code on purpose.
 */
export function signalFromExitCode(exitCode: number | null): string | null {
  if (exitCode === null || exitCode <= 128 || exitCode > 128 + 64) return null;
  return signalName(exitCode - 128);
}

/** SIGKILL for 9, and so on. */
export function signalName(signo: number): string {
  return SIGNALS[signo] ?? `SIG${signo}`;
}

/** True when the result should be flagged as an error to an MCP client. */
export function isFailure(result: Pick<RunResult, 'status' | 'exit_code'>): boolean {
  return result.status !== 'exited' || result.exit_code !== 0;
}
