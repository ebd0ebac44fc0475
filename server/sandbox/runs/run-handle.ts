import type { OutputChunk } from '../../runtime/container-runtime.js';
import type { RetainedLog } from './retained-log.js';
import type { RunResult } from './run-result.js';
import type { RunStats } from './run-stats.js';

/**
 * A started run (E2B's CommandHandle model): its output as one AsyncIterable that live notifications,
 * SSE and the result all read from the same source, its controls, and its result. Disposing it ends
 * the run if it is still going and waits until its container is removed, so `await using` leaves
 * nothing behind on any path.
 */
export interface RunHandle extends AsyncDisposable {
  readonly runId: string;
  /** Who started it (token name, or "local"). */
  readonly owner: string;
  /** The sandbox profile it runs under. */
  readonly profile: string;
  /** What runs, for its owner: the command (cut at 300 characters) or "<language> code (N bytes)". */
  readonly display: string;
  /** Every output chunk from the start, stdout and stderr in order, until the run ends; each read starts over. */
  readonly output: AsyncIterable<OutputChunk>;
  /** The same output addressed by byte offsets (read_process_output cursors, SSE's Last-Event-ID). */
  readonly log: RetainedLog;
  /** The launcher's latest accounting (about once a second); null before the first. */
  readonly stats: RunStats | null;
  /** Write to stdin (a run started with `stdinOpen`); InvalidInputError once it is closed. */
  writeStdin(data: Buffer): Promise<void>;
  /** Close stdin (EOF). */
  closeStdin(): void;
  /** Deliver a signal to the program, through the container's init. */
  signal(name: string): Promise<void>;
  /** End the run (SIGTERM, the kill grace, SIGKILL); its result is `killed`, with `why` as its error. */
  kill(why: Error): Promise<RunResult>;
  /** The result, once the run has ended and what follows it (collected files, usage, removal) is done. */
  wait(): Promise<RunResult>;
  /** Files the program left in /capsule-out (runs started with `outputs`); empty before wait() resolves. */
  outputs(): ReadonlyMap<string, Buffer>;
}

/** How a prepared job is started. */
export interface StartOptions {
  /** The client's cancellation (a disconnect, an MCP cancel, an aborted HTTP request). */
  signal?: AbortSignal;
  /** A background process: recorded with its process id; the launcher forwards every byte (its log serves cursors). */
  processId?: string;
  /** Keep stdin open after the initial data (interactive processes; closed by closeStdin). */
  stdinOpen?: boolean;
  /** Read the files a tool writes to /capsule-out after the run, each up to `maxBytes` (profilers, analyzers). */
  outputs?: { maxBytes: number };
  /** Bytes of output the run's log keeps for cursor readers; default the profile's output cap per stream. */
  retainBytes?: number;
  /** The MCP task the run belongs to: recorded with the run (and the run on the task). */
  taskId?: string;
}
