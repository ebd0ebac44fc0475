import type { Logger } from 'pino';
import type { AttachedIo, ContainerRuntime } from '../../runtime/container-runtime.js';
import type { PoolProfileState } from '../../schemas/pool-state.js';
import { buildContainerSpec } from '../container/container-spec.js';
import { type InstanceIdentity, ownedBy, runLabels } from '../container/labels.js';
import { LAUNCHER } from '../container/launcher-protocol.js';
import type { Profile, ProfileRegistry } from '../profiles/profiles.js';
import { newRunId } from '../runs/run-request.js';
import { RefillTimers } from './refill-timers.js';
import { type Slot, slotState } from './slot.js';

/** While another container is idle, a refill waits for the taking run to end (+20 ms), at most 1 s. */
const REFILL = { deferMaxMs: 1000, afterRunMs: 20 };

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
  /** Retry delays after a failed creation: first, doubling up to max (default 1 s to 30 s). */
  retry?: { firstMs: number; maxMs: number };
}

/**
 * Per profile, N containers created, attached and started ahead of time (`pool: {size, max_idle_s}`).
 * Each serves exactly one run and is never reused or shared; taking one triggers a refill in the
 * background. An empty pool is not an error: the caller takes the cold path. A failed refill retries
 * with backoff for as long as the pool is below its size (an engine outage heals without a restart),
 * and an idle container whose attach stream ends (it died with the engine) is dropped and replaced.
 */
export class WarmPool {
  private readonly slots = new Map<string, Slot>();
  /** Run ids of idle and in-flight warm containers, so the reaper leaves them alone. */
  private readonly owned = new Set<string>();
  private readonly imageEnvs = new Map<string, Record<string, string>>();
  private readonly retry: { firstMs: number; maxMs: number };
  private closed = false;
  /** Container ids ever handed out: a container is never taken twice (tests check this). */
  readonly handedOut = new Set<string>();
  private readonly refills = new RefillTimers();

  /** Whether this pool's engine offers an OCI runtime, as last probed (unset: yes); set by its Engine. */
  private offers: ((runtime: string) => boolean) | null = null;

  constructor(private readonly deps: WarmPoolDeps) {
    this.retry = deps.retry ?? { firstMs: 1000, maxMs: 30_000 };
  }

  /** Fill every pool (in the background). */
  start(): void {
    for (const p of this.pooledProfiles()) this.refill(p);
  }

  /** Idle containers per profile (the capsule.pool.idle gauge). */
  sizes(): Record<string, number> {
    return Object.fromEntries([...this.slots.entries()].map(([k, v]) => [k, v.idle.length]));
  }

  /** Each pooled profile's state: target, idle, refill and retry status, last error. */
  state(): Record<string, PoolProfileState> {
    return Object.fromEntries(this.pooledProfiles().map((p) => [p.name, slotState(this.slot(p.name), p.pool.size, this.closed)]));
  }

  /** The engine just worked for a cold run: end every retry wait now instead of at its backoff. */
  retryNow(): void {
    for (const s of this.slots.values()) s.wake?.();
  }

  /** True when a container with these labels belongs to the pool (idle or being filled). */
  ownsContainer(labels: Record<string, string>): boolean {
    return ownedBy(labels, ['pool'], this.owned);
  }

  /** Take a warm container of this profile, or null (empty pool, or pooling off for it). */
  take(profile: Profile): WarmContainer | null {
    const slot = this.slots.get(profile.name);
    const c = slot?.idle.shift() ?? null;
    if (slot && c) {
      this.handedOut.add(c.id);
      slot.handedOut++;
      if (slot.idle.length > 0) this.refills.set(c.id, REFILL.deferMaxMs, () => this.refill(profile));
      else this.refill(profile);
    }
    return c;
  }

  /** The run that took a warm container is done with it (its removal is the run's job). */
  release(c: WarmContainer): void {
    this.owned.delete(c.runId);
    this.refills.hurry(c.id, REFILL.afterRunMs);
  }

  /** Replace idle containers older than their profile's max_idle_s; returns how many were removed. */
  async sweepIdle(): Promise<number> {
    let removed = 0;
    const now = Date.now();
    for (const p of this.deps.profiles.all()) {
      const slot = this.slots.get(p.name);
      const stale = slot?.idle.filter((c) => now - c.readyAt > p.pool.maxIdleMs) ?? [];
      if (!slot || !stale.length) continue;
      slot.idle = slot.idle.filter((c) => !stale.includes(c));
      await Promise.all(stale.map((c) => this.discard(c)));
      removed += stale.length;
      this.refill(p);
    }
    return removed;
  }

  /** Remove every idle container and stop refilling (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    this.refills.clear();
    this.retryNow();
    await Promise.allSettled([...this.slots.values()].map((s) => s.filling));
    const all = [...this.slots.values()].flatMap((s) => s.idle.splice(0));
    await Promise.all(all.map((c) => this.discard(c, 3)));
  }

  private pooledProfiles(): Profile[] {
    return this.deps.profiles.all().filter((p) => p.enabled && p.pool.size > 0 && this.lacks(p) === null);
  }

  /** Learn which OCI runtimes this pool's engine offers: a profile whose runtime it lacks is not pooled here (another engine may offer it). */
  checkRuntimesWith(offers: (runtime: string) => boolean): void {
    this.offers = offers;
    this.retryNow();
  }

  /** Why this pool's engine cannot run `profile`, or null. */
  private lacks(profile: Profile): string | null {
    return profile.runtime && this.offers?.(profile.runtime) === false ? `this engine has no OCI runtime "${profile.runtime}"` : null;
  }

  private slot(profile: string): Slot {
    let slot = this.slots.get(profile);
    if (!slot) {
      slot = { idle: [], filling: null, failures: 0, lastError: null, lastErrorAt: null, nextRetryAt: null, wake: null, replacedDead: 0, handedOut: 0 };
      this.slots.set(profile, slot);
    }
    return slot;
  }

  private refill(profile: Profile): void {
    const slot = this.slot(profile.name);
    if (this.closed || slot.filling) return;
    slot.filling = this.fill(profile, slot).finally(() => {
      slot.filling = null;
      // A container that died between the loop's last check and here still gets replaced.
      if (!this.closed && slot.idle.length < profile.pool.size) this.refill(profile);
    });
  }

  /** One container at a time per profile, so refills never starve the runs themselves. */
  private async fill(profile: Profile, slot: Slot): Promise<void> {
    while (!this.closed && slot.idle.length < profile.pool.size) {
      // A profile whose OCI runtime the engine lacks (optional gvisor) waits quietly for it to appear.
      const disabled = this.deps.profiles.disabledReason(profile) ?? this.lacks(profile);
      if (disabled !== null) {
        this.noteError(slot, disabled);
        await this.pause(slot, this.retry.maxMs);
        continue;
      }
      let c: WarmContainer;
      try {
        c = await this.createWarm(profile);
      } catch (err) {
        // Engine down or image missing: runs take the cold path (and report the problem) meanwhile.
        slot.failures++;
        this.noteError(slot, (err as Error).message);
        const delay = Math.min(this.retry.firstMs * 2 ** (slot.failures - 1), this.retry.maxMs);
        this.deps.log.warn({ profile: profile.name, err: slot.lastError, failures: slot.failures, retry_in_ms: delay }, 'warm pool refill failed');
        await this.pause(slot, delay);
        continue;
      }
      if (this.closed) {
        await this.discard(c);
        break;
      }
      slot.failures = 0;
      slot.idle.push(c);
      this.watch(profile, slot, c);
    }
  }

  private pause(slot: Slot, ms: number): Promise<void> {
    slot.nextRetryAt = Date.now() + ms;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => slot.wake?.(), ms);
      timer.unref();
      slot.wake = () => {
        clearTimeout(timer);
        slot.wake = null;
        slot.nextRetryAt = null;
        resolve();
      };
    });
  }

  /** An idle container whose attach stream ends is dead (engine stopped, removed from outside): replace it. */
  private watch(profile: Profile, slot: Slot, c: WarmContainer): void {
    void c.io.closed.then(() => {
      const i = slot.idle.indexOf(c);
      if (i < 0) return; // taken by a run (whose end closes the stream) or already discarded
      slot.idle.splice(i, 1);
      slot.replacedDead++;
      this.noteError(slot, `idle warm container ${c.id.slice(0, 12)} ended (engine stopped, or removed from outside Capsule)`);
      this.deps.log.warn({ profile: profile.name, container_id: c.id }, 'idle warm container ended; replacing it');
      // Removed if it still exists; with the engine down the removal fails and the reaper takes it later.
      void this.discard(c);
      this.refill(profile);
    });
  }

  private noteError(slot: Slot, message: string): void {
    slot.lastError = message;
    slot.lastErrorAt = Date.now();
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

  /** Remove a container; at shutdown asked up to 3 times (a loaded engine missed a removal's timeout). */
  private async discard(c: WarmContainer, attempts = 1): Promise<void> {
    c.io.destroy();
    for (let i = 0; i < attempts; i++) {
      if (i) await new Promise((r) => setTimeout(r, 250 * 3 ** (i - 1)));
      const err = await this.deps.runtime.remove(c.id).then(() => null, (e: unknown) => e as Error);
      if (!err) break;
      this.deps.log.warn({ container_id: c.id, err: err.message }, 'removing a warm container failed');
    }
    this.owned.delete(c.runId);
  }
}
