import type { Logger } from 'pino';
import type { SwarmNodeSource } from '../../runtime/swarm-nodes.js';
import type { WarmPool } from '../pool/warm-pool.js';
import type { Engine, EngineParts } from './engine.js';
import type { EngineSet } from './engine-set.js';
import { Periodic } from '../periodic.js';
import { type SwarmEngine, swarmEngines } from './swarm-engines.js';

export interface SwarmDiscoveryDeps {
  source: SwarmNodeSource;
  engines: EngineSet;
  log: Logger;
  intervalMs: number;
  /** A new engine's services (runtime, volumes, workspaces, pool, reaper), not started yet. */
  attach: (e: SwarmEngine) => EngineParts;
  /** Start an added engine's background work (reaper, pool). */
  started: (engine: Engine) => void;
  /** A fresh warm pool for an engine that became active again (undefined with pools off). */
  newPool: (engine: Engine) => WarmPool | undefined;
  /** Stop a dropped engine's background work and services (its runs in flight go on to their end). */
  detach: (engine: Engine) => Promise<void>;
}

/**
 * Engines from a Swarm manager: its nodes are read on a timer (CAPSULE_SWARM_REFRESH_MS). A node
 * labelled capsule.engine joins the engine set; only Ready + Active nodes get new runs; a drained or
 * paused node's warm pool is removed (its running work goes on) and made again when it is active; a
 * node that left (or lost its label) is dropped, one whose label names another endpoint is attached
 * again there (not the first engine: the egress proxy lives on it). The manager not answering changes nothing.
 */
export class SwarmDiscovery {
  private readonly periodic: Periodic<void>;
  private stopped = false;
  /** The endpoint each engine was attached at (the first read's engines: their runtime's, made from the same labels). */
  private readonly endpoints = new Map<string, string>();

  constructor(private readonly deps: SwarmDiscoveryDeps) {
    for (const e of deps.engines.all()) this.endpoints.set(e.name, e.runtime.endpoint);
    this.periodic = new Periodic(() => this.refreshOnce(), deps.intervalMs, (err) => deps.log.warn({ err: err.message }, 'reading the Swarm nodes failed; engines stay as they were'));
  }

  /** Read the nodes once now (concurrent calls share one read). */
  refresh(): Promise<void> {
    return this.periodic.run();
  }

  start(): void {
    this.periodic.start(false);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.periodic.stop();
  }

  private async refreshOnce(): Promise<void> {
    const { engines, source, log } = this.deps;
    const wanted = swarmEngines(await source.listNodes({ signal: AbortSignal.timeout(Math.max(2000, this.deps.intervalMs)) }));
    if (this.stopped) return;
    for (const w of wanted) {
      let engine = engines.get(w.name);
      const was = this.endpoints.get(w.name);
      if (engine && was !== undefined && was !== w.endpoint && engine !== engines.primary) {
        // Its capsule.engine label now names another endpoint: the engine is made again there (runs in flight on the old one go on to their end).
        engines.remove(engine.name);
        log.info({ engine: engine.name, was, endpoint: w.endpoint }, 'Swarm node names another engine endpoint: engine re-attached');
        await this.deps.detach(engine);
        engine = undefined;
      }
      this.endpoints.set(w.name, w.endpoint);
      if (!engine) {
        engine = engines.add(this.deps.attach(w));
        log.info({ engine: w.name, endpoint: w.endpoint, node: w.nodeId }, 'Swarm node joined as an engine');
        this.deps.started(engine);
      }
      await this.apply(engine, w);
    }
    for (const engine of [...engines.all()]) {
      if (wanted.some((w) => w.name === engine.name)) continue;
      if (engine === engines.primary) {
        engine.nodeReady = false; // the primary stays in the set (egress lives there) but gets no runs
        continue;
      }
      engines.remove(engine.name);
      this.endpoints.delete(engine.name);
      log.info({ engine: engine.name }, 'Swarm node left (or lost its capsule.engine label): engine dropped');
      await this.deps.detach(engine);
    }
  }

  /** A node's state onto its engine: Ready, availability (the pool follows it) and labels. */
  private async apply(engine: Engine, w: SwarmEngine): Promise<void> {
    const was = engine.availability;
    engine.nodeReady = w.ready;
    engine.availability = w.availability;
    engine.parts.labels = w.labels;
    if (was === 'active' && w.availability !== 'active') {
      const pool = engine.parts.pool;
      delete engine.parts.pool;
      this.deps.log.info({ engine: engine.name, availability: w.availability }, 'Swarm node not active: no new runs, warm pool removed, running work goes on');
      await pool?.close();
    } else if (was !== 'active' && w.availability === 'active' && !engine.parts.pool) {
      const pool = this.deps.newPool(engine);
      if (pool) engine.adoptPool(pool);
      pool?.start();
      this.deps.log.info({ engine: engine.name }, 'Swarm node active again: it gets runs, its warm pool refills');
    }
  }
}
