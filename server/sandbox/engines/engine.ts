import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import type { WarmPool } from '../pool/warm-pool.js';
import type { Reaper } from '../reaper.js';
import type { BoundedVolumes } from '../volumes/bounded-volumes.js';
import type { WorkspaceService } from '../workspaces/workspace-service.js';
import { type Demand, type EngineLoad, loadAfter } from './placement.js';

/** What one engine is made of: its runtime and the services that live on it. */
export interface EngineParts {
  name: string;
  /** Placement labels (CAPSULE_ENGINES `;key=value`, or a Swarm node's labels). */
  labels: Record<string, string>;
  runtime: ContainerRuntime;
  pool?: WarmPool;
  volumes?: BoundedVolumes;
  workspaces?: WorkspaceService;
  /** Its orphan sweep (containers no live object owns, expired workspaces, idle pool containers). */
  reaper?: Reaper;
}

/** A Swarm node's availability: only `active` nodes get new runs. */
export type Availability = 'active' | 'drain' | 'pause';

/** What the last health probe learned. */
export interface EngineFacts {
  /** False once a probe failed (or did not answer in time), until one succeeds. */
  reachable: boolean;
  version: string | null;
  runtimes: string[];
  cpus: number;
  memoryBytes: number;
  lastError: string | null;
  /** When the last probe answered or failed (ms since the epoch); null before the first. */
  checkedAt: number | null;
}

/**
 * One Docker engine Capsule runs on, with its own warm pool, volumes, workspaces and reaper, its
 * health as last probed, and what its live runs hold (for placement).
 */
export class Engine {
  facts: EngineFacts = { reachable: true, version: null, runtimes: [], cpus: 0, memoryBytes: 0, lastError: null, checkedAt: null };
  availability: Availability = 'active';
  /** A Swarm node's status is Ready (always true for a configured engine). */
  nodeReady = true;
  private readonly held = { runs: 0, cpus: 0, memoryBytes: 0 };
  /** Probes in a row that got no answer in time. */
  private slowProbes = 0;

  constructor(readonly parts: EngineParts) {
    if (parts.pool) this.adoptPool(parts.pool);
  }

  /** Give this engine its warm pool (at construction, or again when its Swarm node is active again). */
  adoptPool(pool: WarmPool): void {
    this.parts.pool = pool;
    pool.checkRuntimesWith((runtime) => this.offersRuntime(runtime));
  }

  /** True when the last probe listed `runtime`, or before the first probe (the engine's answer to a create then says). */
  offersRuntime(runtime: string): boolean {
    return this.facts.checkedAt === null || this.facts.runtimes.includes(runtime);
  }

  get name(): string {
    return this.parts.name;
  }

  get runtime(): ContainerRuntime {
    return this.parts.runtime;
  }

  get labels(): Record<string, string> {
    return this.parts.labels;
  }

  /** Runs placed here and not yet over. */
  get liveRuns(): number {
    return this.held.runs;
  }

  /** Up, Ready and Active: it may get new runs. */
  canServe(): boolean {
    return this.facts.reachable && this.nodeReady && this.availability === 'active';
  }

  /** Why it gets no new runs, or null when it does. */
  whyNot(): string | null {
    if (!this.facts.reachable) return `engine "${this.name}" is down${this.facts.lastError ? `: ${this.facts.lastError}` : ''}`;
    if (!this.nodeReady) return `engine "${this.name}" is a Swarm node that is not Ready`;
    if (this.availability !== 'active') return `engine "${this.name}" is a Swarm node set to ${this.availability}`;
    return null;
  }

  /** Its load once `demand` is added (placement compares these). */
  load(demand: Demand): number {
    const e: EngineLoad = { cpus: this.facts.cpus, memoryBytes: this.facts.memoryBytes, reservedCpus: this.held.cpus, reservedMemoryBytes: this.held.memoryBytes };
    return loadAfter(e, demand);
  }

  /** Count a run against this engine until the returned release is called (idempotent). */
  hold(demand: Demand): () => void {
    this.held.runs++;
    this.held.cpus += demand.cpus;
    this.held.memoryBytes += demand.memoryBytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held.runs--;
      this.held.cpus -= demand.cpus;
      this.held.memoryBytes -= demand.memoryBytes;
    };
  }

  /**
   * Ask the engine (bounded by `timeoutMs`); returns 'down' or 'up' when reachability changed, else
   * null. A refused connection is down at once; no answer in time twice in a row (a loaded engine may
   * miss one deadline and still be serving its runs).
   */
  async probe(timeoutMs: number): Promise<'up' | 'down' | null> {
    const was = this.facts.reachable;
    try {
      const info = await this.runtime.info({ signal: AbortSignal.timeout(timeoutMs) });
      this.slowProbes = 0;
      this.facts = { reachable: true, version: info.version, runtimes: info.runtimes, cpus: info.cpus, memoryBytes: info.memoryBytes, lastError: this.facts.lastError, checkedAt: Date.now() };
    } catch (err) {
      const slow = err instanceof Error && err.name === 'TimeoutError';
      this.slowProbes = slow ? this.slowProbes + 1 : 0;
      const message = slow ? `no answer within ${timeoutMs} ms` : (err as Error).message;
      this.facts = { ...this.facts, reachable: was && slow && this.slowProbes < 2, lastError: message, checkedAt: Date.now() };
    }
    if (was === this.facts.reachable) return null;
    return this.facts.reachable ? 'up' : 'down';
  }
}
