import type { z } from 'zod';
import type { runResultObject, workspaceUsageReportObject } from '../../schemas/run-outputs.js';

export type { RunState, RunStatus } from '../../schemas/run-outputs.js';

/**
 * The honest outcome of one run. Its type is the schema's (run_command's outputSchema), so a field
 * the schema lacks cannot be added here and then rejected by a validating client.
 */
export type RunResult = z.infer<typeof runResultObject>;

/** For runs on a workspace: its size after the run, and whether it is over quota. */
export type WorkspaceUsageReport = z.infer<typeof workspaceUsageReportObject>;

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
