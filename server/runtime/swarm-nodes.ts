import type { CallOptions } from './container-runtime.js';

// What Capsule reads of a Docker Swarm: its nodes, from a manager (GET /nodes). Kept beside the
// ContainerRuntime contract, not in it: only Swarm discovery needs it.

/** One node as the manager reports it. */
export interface SwarmNodeInfo {
  id: string;
  hostname: string;
  /** ready, down, unknown, disconnected. */
  state: string;
  availability: 'active' | 'pause' | 'drain';
  labels: Record<string, string>;
}

/** A Swarm manager's node list. */
export interface SwarmNodeSource {
  readonly endpoint: string;
  /** Every node; EngineUnavailableError when the manager does not answer. */
  listNodes(options?: CallOptions): Promise<SwarmNodeInfo[]>;
}
