import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { ownerOf } from '../auth/owner.js';
import type { ProfiledResult } from '../profiling/profiling-service.js';
import type { RunResult } from '../sandbox/runs/run-result.js';
import type { RunCallOptions } from '../sandbox/sandbox-service.js';
import { LiveOutput } from './live-output.js';
import type { SessionContext } from './tool-context.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** Run with the request's cancellation and owner, streaming output to the client as notifications while it runs. */
export async function runWithLiveOutput<R extends RunResult | ProfiledResult>(
  extra: Extra,
  session: SessionContext,
  maxBytesPerStream: number,
  run: (options: RunCallOptions) => Promise<R>,
): Promise<R> {
  const progressToken = extra._meta?.progressToken;
  const live = new LiveOutput({
    send: (n) => extra.sendNotification(n),
    ...(progressToken !== undefined ? { progressToken } : {}),
    level: session.of(extra).logLevel,
    maxBytesPerStream,
  });
  try {
    return await run({ signal: extra.signal, owner: ownerOf(extra.authInfo), onOutput: live.push });
  } finally {
    await live.close();
  }
}
