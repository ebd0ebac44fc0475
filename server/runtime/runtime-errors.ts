import { EngineUnavailableError, RuntimeFailureError } from '../errors.js';
import type { RuntimeCall } from './container-runtime.js';

/**
 * A volume a container still mounts (running or not) cannot be removed: an engine-neutral fact. What
 * it means to a client (busy, retry when the run ends) is the caller's decision.
 */
export class VolumeInUseError extends RuntimeFailureError {
  constructor(readonly volume: string, options?: { cause?: unknown }) {
    super(`volume ${volume} is in use by a container`, { ...options, details: { volume } });
  }
}

/** "200 ms", "30 s". */
function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** A request the engine did not answer within its request timeout. */
export function requestTimedOut(engine: string, call: RuntimeCall, timeoutMs: number): EngineUnavailableError {
  return new EngineUnavailableError(`${engine} did not answer \`${call}\` within ${duration(timeoutMs)}`, { details: { call, timeout_ms: timeoutMs } });
}
