import type { EngineReport } from '../../schemas/system-outputs.js';
import type { Engine } from './engine.js';
import type { EngineSet } from './engine-set.js';

/** Image presence per engine, read at most every 30 s (image loads are rare; /readyz is polled). */
const IMAGE_CHECK_MS = 30_000;

/**
 * What system_info and /readyz say of each engine: reachable, version, runtimes, whether every
 * profile image is present, live runs, idle warm containers, availability and the last error.
 */
export class EngineReports {
  private readonly images = new Map<Engine, { at: number; missing: string[] }>();

  constructor(private readonly engines: EngineSet, private readonly imageRefs: () => string[]) {}

  /** Every engine's report; an engine is probed first when the set does not probe on a timer (one engine). */
  async all(): Promise<EngineReport[]> {
    if (!this.engines.many) await this.engines.check();
    return Promise.all(this.engines.all().map((e) => this.report(e)));
  }

  /** Profile images the engine lacks (empty: all present); an engine that does not answer keeps its last reading. */
  private async missingImages(e: Engine): Promise<string[] | null> {
    const cached = this.images.get(e);
    if (cached && Date.now() - cached.at < IMAGE_CHECK_MS) return cached.missing;
    if (!e.facts.reachable) return cached?.missing ?? null;
    try {
      const refs = this.imageRefs();
      const present = await Promise.all(refs.map((ref) => e.runtime.inspectImage(ref, { signal: AbortSignal.timeout(5000) })));
      const missing = refs.filter((_, i) => !present[i]);
      this.images.set(e, { at: Date.now(), missing });
      return missing;
    } catch {
      return cached?.missing ?? null;
    }
  }

  private async report(e: Engine): Promise<EngineReport> {
    const missing = await this.missingImages(e);
    const idle = Object.values(e.parts.pool?.sizes() ?? {}).reduce((a, b) => a + b, 0);
    const serves = e.canServe() && missing !== null && missing.length === 0;
    return {
      name: e.name,
      endpoint: e.runtime.endpoint,
      labels: e.labels,
      reachable: e.facts.reachable,
      availability: e.availability,
      can_serve: serves,
      version: e.facts.version,
      runtimes: e.facts.runtimes,
      images_present: missing === null ? null : missing.length === 0,
      missing_images: missing ?? [],
      live_runs: e.liveRuns,
      pool_idle: idle,
      last_error: e.facts.lastError,
      checked_at: e.facts.checkedAt === null ? null : new Date(e.facts.checkedAt).toISOString(),
    };
  }
}
