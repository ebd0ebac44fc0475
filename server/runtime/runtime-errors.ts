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

/** A network with members (containers connected to it) cannot be removed. */
export class NetworkInUseError extends RuntimeFailureError {
  constructor(readonly network: string, options?: { cause?: unknown }) {
    super(`network ${network} has containers connected to it`, { ...options, details: { network } });
  }
}

/** What another network already has: its name, an overlapping subnet, or the bridge interface name. */
export type NetworkConflict = 'name' | 'subnet' | 'bridge';

const CONFLICT_TEXT: Record<NetworkConflict, string> = {
  name: 'the name is taken by another network',
  subnet: "its subnet overlaps another network's",
  bridge: 'its bridge name is taken by another network',
};

/** createNetwork asked for something another network has; `conflict` says what, so a caller can pick another. */
export class NetworkConflictError extends RuntimeFailureError {
  constructor(readonly network: string, readonly conflict: NetworkConflict, options?: { cause?: unknown }) {
    super(`network ${network}: ${CONFLICT_TEXT[conflict]}`, { ...options, details: { network, conflict } });
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
