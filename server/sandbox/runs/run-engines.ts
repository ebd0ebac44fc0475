import { EngineUnavailableError } from '../../errors.js';
import type { Engine } from '../engines/engine.js';
import { type EngineSet, placementOf } from '../engines/engine-set.js';
import type { LiveRun } from './live-run.js';
import type { PreparedRun } from './run-request.js';

/**
 * Runs and their engines: where a run goes (its workspace's home, else placement), which started
 * runs an engine holds (an engine marked down ends them at once, failed naming it), and the retry of
 * a start that found its engine unreachable.
 */
export class RunEngines {
  /** Started runs per engine name. */
  private readonly onEngine = new Map<string, Set<LiveRun>>();
  /** Start failures that were the engine being unreachable, with that engine. */
  private readonly unreachable = new WeakMap<object, Engine>();

  constructor(readonly engines: EngineSet) {
    engines.onChange((engine, change) => {
      if (change === 'up') engine.parts.pool?.retryNow();
      else for (const run of this.onEngine.get(engine.name) ?? []) run.lost(new EngineUnavailableError(`engine "${engine.name}" stopped answering (${engine.facts.lastError ?? 'no answer'})`));
    });
  }

  /** The engine a run goes to: its workspace's home, else placement. */
  engineFor(job: PreparedRun): Engine {
    return job.workspace ? this.engines.home(job.workspace.engine, `workspace ${job.workspace.id}`) : this.engines.place(placementOf(job.profile));
  }

  /** Count a started run against its engine until the returned function is called. */
  track(engine: Engine, run: LiveRun): () => void {
    let runs = this.onEngine.get(engine.name);
    if (!runs) this.onEngine.set(engine.name, (runs = new Set()));
    runs.add(run);
    return () => runs.delete(run);
  }

  /** A start on `engine` failed (nothing of the run is left): remember whether the engine was unreachable. */
  startFailed(err: unknown, engine: Engine): void {
    if (err instanceof EngineUnavailableError && this.engines.many) this.unreachable.set(err, engine);
  }

  /**
   * `launch` on the engine placement picks; when that engine turns out to be unreachable before
   * anything of the run started, it is marked down and the run goes to another (no error to the client
   * while one can serve; none left: placement's engine_unavailable). A program that may have run is
   * never run twice: only start failures come here. A workspace's run has no other engine.
   */
  async launchSomewhere<T>(job: PreparedRun, launch: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await launch();
      } catch (err) {
        const engine = this.unreachable.get(err as object);
        if (!engine || job.workspace) throw err;
        this.engines.markDown(engine, (err as Error).message);
      }
    }
  }
}
