import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { ownerOf } from '../auth/owner.js';
import type { RunResult } from '../sandbox/runs/run-result.js';
import type { CallOptions, RunHandle } from '../sandbox/sandbox-service.js';
import { LiveOutput } from './live-output.js';
import { taskIdOf } from './task-marks.js';
import type { SessionContext } from './tool-context.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** The call's cancellation (the request's, or its task's), owner and task, as a run takes them. */
export function callOptions(extra: Extra): CallOptions & { owner: string } {
  const taskId = taskIdOf(extra);
  return { signal: extra.signal, owner: ownerOf(extra.authInfo), ...(taskId ? { taskId } : {}) };
}

/**
 * Start a run for a tool call and stream its output to the client as notifications while it runs
 * (the handle's output, the same source as the result). `finish` turns the ended run into the tool's
 * value (default: its result); the handle is disposed, its container removed, before this returns.
 */
export async function followLive<T = RunResult>(
  extra: Extra,
  session: SessionContext,
  maxBytesPerStream: number,
  start: (options: CallOptions) => Promise<RunHandle>,
  finish: (handle: RunHandle) => Promise<T> = (handle) => handle.wait() as Promise<T>,
): Promise<T> {
  const progressToken = extra._meta?.progressToken;
  const live = new LiveOutput({
    send: (n) => extra.sendNotification(n),
    ...(progressToken !== undefined ? { progressToken } : {}),
    level: session.of(extra).logLevel,
    maxBytesPerStream,
  });
  await using handle = await start(callOptions(extra));
  const streamed = live.follow(handle.output);
  try {
    return await finish(handle);
  } finally {
    await streamed;
    await live.close();
  }
}
