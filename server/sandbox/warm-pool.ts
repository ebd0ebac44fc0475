import type { Logger } from 'pino';
import type { AttachedIo, ContainerRuntime } from '../runtime/container-runtime.js';
import { buildContainerSpec, type InstanceIdentity, runLabels } from './container-spec.js';
import { LAUNCHER } from './launcher-protocol.js';
import type { Profile, ProfileRegistry } from './profiles.js';
import { newRunId } from './run-request.js';

/** A started container whose launcher waits on stdin for one job. Used once, then removed. */
export interface WarmContainer {
  id: string;
  /** The run id it was created for: the run that takes it adopts it, so labels match the run. */
  runId: string;
  profile: string;
  io: AttachedIo;
  /** The image's default environment, which the job's environment must include (execvpe replaces it). */
  imageEnv: Record<string, string>;
  readyAt: number;
}

export interface WarmPoolDeps {
  runtime: ContainerRuntime;
  log: Logger;
  instance: InstanceIdentity;
  profiles: ProfileRegistry;
}

/**
 * Per profile, N containers created, attached and started ahead of time (`pool: {size, max_idle_s}`).
 * Each serves exactly one run and is never reused or shared; taking one triggers a refill in the
 * background. An empty pool is not an error: the caller takes the cold path.
 */
export class WarmPool {
  private readonly idle = new Map<string, WarmContainer[]>();
  private readonly filling = new Map<string, Promise<void>>();
  /** Run ids of idle and in-flight warm containers, so the reaper leaves them alone. */
  private readonly owned = new Set<string>();
  private readonly imageEnvs = new Map<string, Record<string, string>>();
  private closed = false;
  /** Container ids ever handed out: a container is never taken twice (tests check this). */
  readonly handedOut = new Set<string>();

  constructor(private readonly deps: WarmPoolDeps) {}

  /** Fill every pool (in the background). */
  start(): void {
    for (const p of this.deps.profiles.all()) if (p.enabled && p.pool.size > 0) this.refill(p);
  }

  /** Idle containers per profile (the capsule.pool.idle gauge). */
  sizes(): Record<string, number> {
    return Object.fromEntries([...this.idle.entries()].map(([k, v]) => [k, v.length]));
  }

  /** True when a container with these labels belongs to the pool (idle or being filled). */
  ownsContainer(labels: Record<string, string>): boolean {
    return labels['capsule.kind'] === 'pool' && this.owned.has(labels['capsule.run_id'] ?? '');
  }

  /** Take a warm container of this profile, or null (empty pool, or pooling off for it). */
  take(profile: Profile): WarmContainer | null {
    const list = this.idle.get(profile.name);
    const c = list?.shift() ?? null;
    if (c) {
      this.handedOut.add(c.id);
      this.refill(profile);
    }
    return c;
  }

  /** The run that took a warm container is done with it (its removal is the run's job). */
  release(c: WarmContainer): void {
    this.owned.delete(c.runId);
  }

  /** Replace idle containers older than their profile's max_idle_s; returns how many were removed. */
  async sweepIdle(): Promise<number> {
    let removed = 0;
    const now = Date.now();
    for (const p of this.deps.profiles.all()) {
      const list = this.idle.get(p.name) ?? [];
      const stale = list.filter((c) => now - c.readyAt > p.pool.maxIdleMs);
      if (!stale.length) continue;
      this.idle.set(p.name, list.filter((c) => !stale.includes(c)));
      await Promise.all(stale.map((c) => this.discard(c)));
      removed += stale.length;
      this.refill(p);
    }
    return removed;
  }

  /** Remove every idle container and stop refilling (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.filling.values()]);
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.all(all.map((c) => this.discard(c)));
  }

  private refill(profile: Profile): void {
    if (this.closed || this.filling.has(profile.name)) return;
    const work = (async () => {
      // One container at a time per profile, so refills never starve the runs themselves.
      while (!this.closed && (this.idle.get(profile.name)?.length ?? 0) < profile.pool.size) {
        try {
          const c = await this.createWarm(profile);
          if (this.closed) {
            await this.discard(c);
            break;
          }
          const list = this.idle.get(profile.name) ?? [];
          list.push(c);
          this.idle.set(profile.name, list);
        } catch (err) {
          // Engine down or image missing: runs take the cold path and report the problem themselves.
          this.deps.log.warn({ profile: profile.name, err: (err as Error).message }, 'warm pool refill failed');
          await new Promise((r) => setTimeout(r, 2000).unref());
          if ((this.idle.get(profile.name)?.length ?? 0) === 0) break;
        }
      }
    })().finally(() => this.filling.delete(profile.name));
    this.filling.set(profile.name, work);
  }

  private async createWarm(profile: Profile): Promise<WarmContainer> {
    const { runtime, instance } = this.deps;
    const runId = newRunId();
    this.owned.add(runId);
    const spec = buildContainerSpec({
      profile,
      limits: { memoryBytes: profile.memoryBytes, cpus: profile.cpus, pids: profile.pidsLimit },
      argv: [],
      env: {},
      workdir: '/workspace',
      openStdin: true,
      withJobDir: true,
      workspaceMount: null,
      labels: runLabels({ runId, kind: 'pool', profile: profile.name, owner: 'pool', instance }),
    });
    spec.cmd = [LAUNCHER, '--wait-job'];
    let id: string | null = null;
    try {
      id = await runtime.create(spec);
      const io = await runtime.attach(id);
      await runtime.start(id);
      return { id, runId, profile: profile.name, io, imageEnv: await this.imageEnv(profile.image), readyAt: Date.now() };
    } catch (err) {
      this.owned.delete(runId);
      if (id) await runtime.remove(id).catch(() => undefined);
      throw err;
    }
  }

  private async imageEnv(image: string): Promise<Record<string, string>> {
    let env = this.imageEnvs.get(image);
    if (!env) {
      const info = await this.deps.runtime.inspectImage(image);
      env = Object.fromEntries((info?.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
      this.imageEnvs.set(image, env);
    }
    return env;
  }

  private async discard(c: WarmContainer): Promise<void> {
    c.io.destroy();
    await this.deps.runtime.remove(c.id).catch((err) => this.deps.log.warn({ container_id: c.id, err: (err as Error).message }, 'removing a warm container failed'));
    this.owned.delete(c.runId);
  }
}
