import type { Logger } from 'pino';
import type { ContainerRuntime } from '../runtime/container-runtime.js';
import { type InstanceIdentity, LABEL, ofInstance } from './container/labels.js';
import { Periodic } from './periodic.js';

export interface ReaperDeps {
  runtime: ContainerRuntime;
  log: Logger;
  instance: InstanceIdentity;
  /** True when a live object of this server owns the container with these labels. */
  isOwned: (labels: Record<string, string>) => boolean;
  intervalMs: number;
  /** Extra sweeps (expired workspaces, idle pool containers), run after the container sweep. */
  extraSweeps?: Array<() => Promise<number>>;
}

/**
 * Removes what no live run owns: every container labelled capsule.managed=true with this server's
 * instance name (those of a crashed earlier start included) that is not owned right now. Runs at
 * start-up and on a timer, so cleanup never depends on the happy path.
 */
export class Reaper {
  private readonly periodic: Periodic<number>;

  constructor(private readonly deps: ReaperDeps) {
    this.periodic = new Periodic(() => this.sweepOnce(), deps.intervalMs, (err) => deps.log.warn({ err: err.message }, 'reaper sweep failed'));
  }

  /** Sweep once now (concurrent calls share one sweep); resolves with how many things were removed. */
  sweep(): Promise<number> {
    return this.periodic.run();
  }

  /** Sweep now and then every intervalMs until stop(). Errors (engine down) are logged, not thrown. */
  start(): void {
    this.periodic.start(true);
  }

  stop(): void {
    void this.periodic.stop();
  }

  private async sweepOnce(): Promise<number> {
    const { runtime, instance, isOwned, log } = this.deps;
    const found = await runtime.list(ofInstance(instance));
    const orphans = found.filter((c) => !isOwned(c.labels));
    await Promise.all(
      orphans.map(async (c) => {
        await runtime.remove(c.id);
        log.info({ container_id: c.id, run_id: c.labels[LABEL.runId], boot: c.labels[LABEL.boot] }, 'reaped orphaned container');
      }),
    );
    let removed = orphans.length;
    for (const extra of this.deps.extraSweeps ?? []) removed += await extra();
    return removed;
  }
}
