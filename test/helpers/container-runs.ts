import type { OutputChunk } from '../../server/runtime/container-runtime.js';
import type { ContainerRun, ContainerRunContext } from '../../server/sandbox/runs/container-run.js';
import { LiveRun } from '../../server/sandbox/runs/live-run.js';
import type { RunResult } from '../../server/sandbox/runs/run-result.js';

/**
 * Run one container to its end as the server does (LiveRun over ContainerRun), without admission or
 * records: start it, feed its output to `onOutput`, and return the result. Throws when it cannot start.
 */
export async function execute(ctx: ContainerRunContext, run: ContainerRun, options: { signal?: AbortSignal; onOutput?: (chunk: OutputChunk) => void } = {}): Promise<RunResult> {
  const handle = await LiveRun.begin(run, {
    runtime: ctx.runtime,
    log: ctx.log,
    signal: options.signal ?? new AbortController().signal,
    stdinOpen: false,
    retainBytes: 1 << 20,
    afterExit: null,
    settle: async () => undefined,
  });
  if (options.onOutput) for await (const chunk of handle.output) options.onOutput(chunk);
  return handle.wait();
}
