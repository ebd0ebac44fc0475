import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { ownerOf } from '../auth/owner.js';
import type { RunResult } from '../sandbox/runs/run-result.js';
import type { CallOptions, RunHandle } from '../sandbox/sandbox-service.js';
import { LiveOutput } from './live-output.js';
import type { SessionContext } from './tool-context.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** The request's cancellation and owner, as a run takes them. */
export function callOptions(extra: Extra): CallOptions {
  return { signal: extra.signal, owner: ownerOf(extra.authInfo) };
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
