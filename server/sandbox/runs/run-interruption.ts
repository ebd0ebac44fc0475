import { CancelledError, CapsuleError, EngineUnavailableError, RuntimeFailureError } from '../../errors.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';

// Why a run ended early, in words a client can act on: a cancellation, a stop Capsule did not send, an
// engine that went away. The last two ask the engine: dockerd closes its API socket first when it shuts
// down and only then stops its containers (measured on a private engine: the exit frame of a container
// it SIGTERMs arrives when new API calls already get engine_unavailable), so "unreachable right now"
// means the engine is what stopped it.

export const ENGINE_STOPPED = 'the Docker engine stopped the container (engine shutting down)';
export const STOPPED_OUTSIDE = 'the container was stopped from outside Capsule (e.g. docker stop)';

async function engineReachable(runtime: ContainerRuntime): Promise<boolean> {
  try {
    await runtime.info();
    return true;
  } catch (err) {
    if (err instanceof EngineUnavailableError) return false;
    // Through a socket proxy (images/docker-proxy) a gone engine is the proxy's 502/503/504.
    const status = err instanceof RuntimeFailureError ? err.details['status'] : undefined;
    return !(typeof status === 'number' && status >= 502 && status <= 504);
  }
}

/**
 * The launcher got a termination signal Capsule never sent: say who sent it. Asked a few times over
 * about a second: on a loaded machine the engine's API has been seen answering once more after its
 * containers got their SIGTERM (the full suite on 2 cores), and only an engine that stays up makes
 * the stop an outside one.
 */
export async function describeOutsideStop(runtime: ContainerRuntime, signal: string): Promise<string> {
  for (const delayMs of [0, 250, 750]) {
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (!(await engineReachable(runtime))) return `${ENGINE_STOPPED}: the program got ${signal}`;
  }
  return `${STOPPED_OUTSIDE}: the program got ${signal}`;
}

/** A run whose output stream, wait or inspect failed after its start: name the engine when it is gone. */
export async function describeMidRunFailure(runtime: ContainerRuntime, err: unknown, engine?: string): Promise<string> {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof EngineUnavailableError || !(await engineReachable(runtime))) {
    return `the Docker engine${engine ? ` "${engine}"` : ''} stopped or became unreachable mid-run, so the run was cut short: ${message}`;
  }
  if (err instanceof CapsuleError) return message;
  return `the connection to the container broke mid-run: ${message}`;
}

/** The error to throw for a run cancelled before its container started. */
export function asCancellation(reason: unknown): Error {
  if (reason instanceof CapsuleError) return reason;
  return new CancelledError(describeAbort(reason));
}

/** The words for an abort reason (client cancel, server shutdown, kill_process). */
export function describeAbort(reason: unknown): string {
  // A bare abort() carries a DOMException "This operation was aborted": that is the client cancelling.
  if (reason instanceof Error && reason.name !== 'AbortError' && reason.message) return reason.message;
  if (typeof reason === 'string' && reason) return reason;
  return 'cancelled by the client';
}
