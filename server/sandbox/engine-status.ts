import type { Logger } from 'pino';
import { CAPSULE_VERSION } from '../version.js';
import { ConfigurationError, ImageMissingError } from '../errors.js';
import type { ContainerRuntime, EngineInfo } from '../runtime/container-runtime.js';
import type { EngineReport, SystemInfo } from '../schemas/system-outputs.js';
import type { PoolProfileState } from '../schemas/pool-state.js';
import type { InstanceIdentity } from './container/labels.js';
import { EngineReports } from './engines/engine-report.js';
import { EngineSet } from './engines/engine-set.js';
import type { ProfileRegistry } from './profiles/profiles.js';
import type { WarmPool } from './pool/warm-pool.js';
import type { BoundedVolumes, DiskQuotaStatus } from './volumes/bounded-volumes.js';

export interface EngineStatusDeps {
  runtime: ContainerRuntime;
  profiles: ProfileRegistry;
  instance: InstanceIdentity;
  pool?: WarmPool;
  volumes?: BoundedVolumes;
  /** Where a profile that gains or loses its OCI runtime is logged. */
  log?: Logger;
  /** Slots in use, waiting and available right now. */
  runs: () => { active: number; queued: number; max_concurrent: number };
  /** The egress proxy: a note while it is down. */
  egress?: { readinessNote(): string | null };
  /** Every engine (default: the one of `runtime`). */
  engines?: EngineSet;
}

export type Readiness = ({ ready: true } | { ready: false; reason: string }) & { pool: Record<string, PoolProfileState>; notes: string[]; engines: EngineReport[] };

/** One line per profile whose pool is below its size, for /readyz. */
function poolNotes(pool: Record<string, PoolProfileState>): string[] {
  return Object.entries(pool)
    .filter(([, p]) => p.idle < p.target_size)
    .map(([name, p]) => {
      const why = p.next_retry_at ? `retrying at ${p.next_retry_at} after ${p.consecutive_failures} failure(s): ${p.last_error}` : p.status;
      return `warm pool "${name}" has ${p.idle} of ${p.target_size} containers ready (${why}); runs take the cold path meanwhile`;
    });
}

/** With many engines: ready while at least one can serve. */
function manyReady(engines: EngineReport[]): { ready: true } | { ready: false; reason: string } {
  if (engines.some((e) => e.can_serve)) return { ready: true };
  return { ready: false, reason: `no engine can serve: ${engines.map((e) => `"${e.name}": ${whyNotServing(e)}`).join('; ')}` };
}

function whyNotServing(e: EngineReport): string {
  if (!e.reachable) return `down (${e.last_error ?? 'no answer'})`;
  if (e.availability !== 'active') return `node availability is ${e.availability}`;
  if (e.missing_images.length) return new ImageMissingError(`image ${e.missing_images.join(', ')} is missing on engine "${e.name}"`).message;
  if (e.images_present === null) return 'its images are not checked yet';
  return 'not serving';
}

/**
 * What the engine offers and whether Capsule can run on it: `system_info`, `/readyz`, and the
 * start-up checks (a runtime or network a profile names but the engine lacks).
 */
export class EngineStatus {
  private readonly engines: EngineSet;
  private readonly reports: EngineReports;

  constructor(private readonly deps: EngineStatusDeps) {
    this.engines = deps.engines ?? new EngineSet([{ name: 'default', labels: {}, runtime: deps.runtime }]);
    this.reports = new EngineReports(this.engines, () => deps.profiles.images());
  }

  /** The runtime engine facts come from: the primary, or with many engines the first reachable one. */
  private get runtime() {
    if (!this.engines.many) return this.deps.runtime;
    return (this.engines.all().find((e) => e.facts.reachable) ?? this.engines.primary).runtime;
  }

  /** Engine, host and Capsule facts, and which sandbox images are present (engine facts cached 30 s). */
  async systemInfo(): Promise<SystemInfo> {
    const now = Date.now();
    if (!this.engineFacts || now - this.engineFacts.at > 30_000) this.engineFacts = { at: now, facts: this.readEngineFacts() };
    const { engine, present } = await this.engineFacts.facts.catch((err: unknown) => {
      this.engineFacts = null;
      throw err;
    });
    return {
      capsule_version: CAPSULE_VERSION,
      instance_id: `${this.deps.instance.name}/${this.deps.instance.bootId}`,
      engine: {
        version: engine.version,
        api_version: engine.apiVersion,
        os: engine.os,
        kernel: engine.kernelVersion,
        cgroup_version: engine.cgroupVersion,
        runtimes: engine.runtimes,
        endpoint: engine.endpoint,
      },
      host: { cpus: engine.cpus, memory_bytes: engine.memoryBytes },
      images: present.map(({ ref, info }) => ({
        ref,
        present: info !== null,
        id: info?.id ?? null,
        size_bytes: info?.sizeBytes ?? null,
        created_at: info?.createdAt ?? null,
      })),
      runs: this.deps.runs(),
      pool: this.deps.pool?.sizes() ?? {},
      pool_state: this.deps.pool?.state() ?? {},
      disk_quota: await this.diskQuota(),
      engines: await this.reports.all(),
    };
  }

  /** Whether the kernel bounds the disk use of volumes (probed once; see bounded-volumes.ts). */
  async diskQuota(): Promise<DiskQuotaStatus> {
    return this.deps.volumes ? this.deps.volumes.status() : { enforced: false, mechanism: 'none', root: '', reason: 'this server has no bounded volumes' };
  }

  private engineFacts: { at: number; facts: ReturnType<EngineStatus['readEngineFacts']> } | null = null;

  /**
   * Read the engine's OCI runtimes again, so a profile follows its runtime (registered or removed while
   * Capsule runs) without a restart; called on /readyz, system_info, list_profiles and every reaper sweep.
   */
  async refreshRuntimes(): Promise<void> {
    this.observeRuntimes(await this.runtime.info());
  }

  /**
   * A profile can run when any engine offers its OCI runtime: the first engine's as just read, and the
   * others' as their last health probe listed them (placement then sends its runs only there).
   */
  private observeRuntimes(first: EngineInfo): void {
    const { profiles, log } = this.deps;
    const others = (this.deps.engines?.all() ?? []).filter((e) => e.runtime !== this.runtime && e.facts.reachable).flatMap((e) => e.facts.runtimes);
    const engine = { runtimes: [...new Set([...first.runtimes, ...others])], defaultRuntime: first.defaultRuntime };
    for (const change of profiles.engineRuntimes.observe(engine, profiles.all())) {
      if (change.available) for (const pool of this.pools()) pool.retryNow();
      if (change.available) log?.info({ profile: change.name }, 'profile enabled: the engine now offers its OCI runtime');
      else log?.warn({ profile: change.name, reason: profiles.disabledReason(profiles.get(change.name)) }, 'profile disabled: the engine does not offer its OCI runtime');
    }
  }

  /** Every engine's warm pool (the one of `runtime` without an engine set). */
  private pools(): WarmPool[] {
    const pools = (this.deps.engines?.all() ?? []).flatMap((e) => (e.parts.pool ? [e.parts.pool] : []));
    return pools.length ? pools : this.deps.pool ? [this.deps.pool] : [];
  }

  /** One line per profile disabled for want of its runtime, for /readyz. */
  private runtimeNotes(): string[] {
    const { profiles } = this.deps;
    return profiles.all().flatMap((p) => {
      const missing = p.enabled ? profiles.engineRuntimes.missing(p) : null;
      return missing ? [`${missing}; the profile is disabled until then`] : [];
    });
  }

  private async readEngineFacts() {
    const { profiles } = this.deps;
    const { runtime } = this;
    const engine = await runtime.info();
    this.observeRuntimes(engine);
    const present = await Promise.all(profiles.images().map(async (ref) => ({ ref, info: await runtime.inspectImage(ref) })));
    return { engine, present };
  }

  /**
   * Ready when the engine answers and every profile image is present; otherwise the reason. The warm
   * pool's state comes with it either way: a pool still filling (after an engine outage) does not
   * make the server unready, runs take the cold path meanwhile, but `notes` says so.
   */
  async readiness(): Promise<Readiness> {
    const pool = this.deps.pool?.state() ?? {};
    const engines = await this.reports.all();
    const ready = this.engines.many ? manyReady(engines) : await this.engineReadiness();
    const egress = this.deps.egress?.readinessNote();
    const down = this.engines.many ? engines.filter((e) => !e.can_serve).map((e) => `engine "${e.name}" takes no runs: ${whyNotServing(e)}`) : [];
    return { ...ready, pool, engines, notes: [...poolNotes(pool), ...this.runtimeNotes(), ...down, ...(egress ? [egress] : [])] };
  }

  private async engineReadiness(): Promise<{ ready: true } | { ready: false; reason: string }> {
    try {
      const engine = await this.deps.runtime.info();
      this.observeRuntimes(engine);
      const missingRuntime = this.deps.profiles.runtimes().find((r) => !engine.runtimes.includes(r));
      if (missingRuntime) return { ready: false, reason: `OCI runtime "${missingRuntime}" named by a profile is not configured in the engine` };
      for (const network of this.deps.profiles.networks()) {
        if (!(await this.deps.runtime.networkExists(network))) {
          return { ready: false, reason: `network "${network}" named by a networked profile does not exist (docker network create ${network})` };
        }
      }
      for (const ref of this.deps.profiles.images()) {
        if (!(await this.deps.runtime.inspectImage(ref))) {
          return { ready: false, reason: new ImageMissingError(`image ${ref} is missing: run \`make images\``).message };
        }
      }
      return { ready: true };
    } catch (err) {
      return { ready: false, reason: (err as Error).message };
    }
  }

  /**
   * Start-up checks that must stop the server: an OCI runtime a required profile names, or a network a
   * profile names, that the engine lacks (an `optional` profile's missing runtime only disables that
   * profile). An unreachable engine is not fatal (runs fail until it is back); it returns false.
   */
  async verifyEngineSetup(): Promise<boolean> {
    let engine;
    try {
      engine = await this.deps.runtime.info();
    } catch {
      return false;
    }
    this.observeRuntimes(engine);
    this.deps.profiles.engineRuntimes.requireFor(this.deps.profiles.all());
    for (const network of this.deps.profiles.networks()) {
      if (!(await this.deps.runtime.networkExists(network))) {
        throw new ConfigurationError(`network "${network}" named by a networked profile does not exist: docker network create ${network}`);
      }
    }
    return true;
  }
}
