import type { Logger } from 'pino';
import { EngineUnavailableError } from '../../errors.js';
import type { Profile } from '../profiles/profiles.js';
import { Engine, type EngineParts } from './engine.js';
import { bestOfTwo, type Demand, matchesLabels } from './placement.js';

export interface EngineSetOptions {
  log?: Logger;
  /** How often each engine is probed (CAPSULE_ENGINE_CHECK_INTERVAL_MS). */
  checkIntervalMs?: number;
  /** Placement's coin (tests fix it). */
  random?: () => number;
}

/** What placement needs to know of a run. */
export interface PlacementRequest extends Demand {
  /** Labels an engine must carry (the profile's placement.engine_labels). */
  labels?: Record<string, string>;
  /** The OCI runtime it names, if any: an engine known to lack it is skipped. */
  runtime?: string;
  /** Egress profiles run where the egress proxy is: the first engine. */
  primaryOnly?: boolean;
}

type Listener = (engine: Engine, change: 'up' | 'down') => void;

/** A profile's placement request. */
export function placementOf(profile: Profile): PlacementRequest {
  return {
    cpus: profile.cpus,
    memoryBytes: profile.memoryBytes,
    ...(profile.engineLabels ? { labels: profile.engineLabels } : {}),
    ...(profile.runtime ? { runtime: profile.runtime } : {}),
    ...(profile.egress ? { primaryOnly: true } : {}),
  };
}

/**
 * Every engine Capsule runs on: placement (best of two by load, within a profile's labels), homes
 * (a workspace's engine), and health (each engine probed on a timer; one that stops answering is
 * marked down, and listeners end its runs; when it answers again, it gets runs again). One engine
 * alone is never probed nor refused: runs go to it and its own errors speak, as before engines.
 */
export class EngineSet {
  private readonly list: Engine[];
  private readonly listeners: Listener[] = [];
  private timer: NodeJS.Timeout | undefined;
  private probing = new Set<Engine>();

  constructor(parts: EngineParts[], private readonly options: EngineSetOptions = {}) {
    if (parts.length === 0) throw new Error('an engine set needs at least one engine');
    this.list = parts.map((p) => new Engine(p));
  }

  /** Every engine, the first being the primary (the egress proxy's, the default for what is not placed). */
  all(): readonly Engine[] {
    return this.list;
  }

  get primary(): Engine {
    return this.list[0]!;
  }

  /** More than one engine, or engines that come and go (Swarm): health decides placement. */
  get many(): boolean {
    return this.list.length > 1 || this.dynamic;
  }

  /** Set by Swarm discovery: engines come and go, so even one is probed. */
  dynamic = false;

  get(name: string): Engine | undefined {
    return this.list.find((e) => e.name === name);
  }

  /** Called with an engine that went down or came back. */
  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** The engine for a new run: best of two among those that can serve it; engine_unavailable naming why each cannot. */
  place(request: PlacementRequest): Engine {
    if (!this.many) return this.primary;
    // The fit test allocates nothing: the reasons are only worded when no engine fits (bench/engines.ts --capsule times this).
    const chosen = bestOfTwo(this.list.filter((e) => this.fits(e, request)), (e) => e.load(request), this.options.random);
    if (chosen) return chosen;
    const reasons = this.list.map((e) => this.unfit(e, request)).filter((r) => r !== null);
    throw new EngineUnavailableError(`no engine can take this run: ${reasons.join('; ')}`, { details: { engines: this.list.map((e) => e.name) } });
  }

  private fits(e: Engine, request: PlacementRequest): boolean {
    if (request.primaryOnly && e !== this.primary) return false;
    if (!e.canServe() || !matchesLabels(e.labels, request.labels)) return false;
    return !request.runtime || e.offersRuntime(request.runtime);
  }

  /** Why an engine cannot take a run, or null. */
  private unfit(e: Engine, request: PlacementRequest): string | null {
    if (request.primaryOnly && e !== this.primary) return `engine "${e.name}" has no egress proxy (egress profiles run on "${this.primary.name}")`;
    const down = e.whyNot();
    if (down) return down;
    if (!matchesLabels(e.labels, request.labels)) return `engine "${e.name}" lacks the labels ${JSON.stringify(request.labels)}`;
    if (request.runtime && !e.offersRuntime(request.runtime)) return `engine "${e.name}" has no OCI runtime "${request.runtime}"`;
    return null;
  }

  /** A workspace's (or a run's) own engine; engine_unavailable naming it when it is down or gone. */
  home(name: string | undefined, what: string): Engine {
    if (name === undefined || !this.many) return name === undefined ? this.primary : (this.get(name) ?? this.primary);
    const engine = this.get(name);
    if (!engine) throw new EngineUnavailableError(`${what} lives on engine "${name}", which this server no longer knows`, { details: { engine: name } });
    if (!engine.facts.reachable) throw new EngineUnavailableError(`${what} lives on engine "${name}", which is down${engine.facts.lastError ? `: ${engine.facts.lastError}` : ''}`, { details: { engine: name } });
    return engine;
  }

  /** Probe every engine now (at most one probe per engine at a time) and tell listeners what changed. */
  async check(): Promise<void> {
    const interval = this.options.checkIntervalMs ?? 1000;
    await Promise.all(
      this.list.map(async (e) => {
        if (this.probing.has(e)) return;
        this.probing.add(e);
        try {
          const change = await e.probe(Math.max(1000, interval * 2));
          // One engine alone is never refused nor has its runs ended: its own errors speak, as before engines.
          if (change && this.many) this.changed(e, change);
        } finally {
          this.probing.delete(e);
        }
      }),
    );
  }

  /** A call to the engine found it unreachable: down now, without waiting for the next probe (which brings it back). */
  markDown(e: Engine, why: string): void {
    if (!e.facts.reachable) return;
    e.facts = { ...e.facts, reachable: false, lastError: why, checkedAt: Date.now() };
    this.changed(e, 'down');
  }

  private changed(e: Engine, change: 'up' | 'down'): void {
    if (change === 'down') this.options.log?.warn({ engine: e.name, err: e.facts.lastError }, 'engine down: its runs end failed, new runs go elsewhere');
    else this.options.log?.info({ engine: e.name }, 'engine back: it gets runs again');
    for (const l of this.listeners) l(e, change);
  }

  /** Add an engine (Swarm discovery); its services are the caller's to start. */
  add(parts: EngineParts): Engine {
    const engine = new Engine(parts);
    this.list.push(engine);
    return engine;
  }

  /** Drop an engine (a node that left the Swarm); the caller stops its services. */
  remove(name: string): Engine | undefined {
    const i = this.list.findIndex((e) => e.name === name);
    if (i <= 0) return undefined; // the primary stays
    return this.list.splice(i, 1)[0];
  }

  /** Probe at once and then on the timer (only with many engines). */
  start(): void {
    if (!this.many || this.timer) return;
    const tick = () => void this.check().catch((err: unknown) => this.options.log?.warn({ err: (err as Error).message }, 'engine check failed'));
    tick();
    this.timer = setInterval(tick, this.options.checkIntervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
