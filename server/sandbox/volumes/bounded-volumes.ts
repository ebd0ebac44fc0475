import { posix } from 'node:path';
import type { Logger } from 'pino';
import { ConfigurationError, EngineUnavailableError, ImageMissingError, RuntimeFailureError, ShuttingDownError } from '../../errors.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import { type InstanceIdentity, LABEL, ownedBy } from '../container/labels.js';
import { checkVolumeName, runVolumeHelper, type VolumeCommand, type VolumeHelperContext } from './volume-helper.js';

/** Whether the disk use of volumes is bounded by the kernel (system_info, list_profiles). */
export interface DiskQuotaStatus {
  enforced: boolean;
  mechanism: 'btrfs-squota' | 'none';
  /** CAPSULE_VOLUME_ROOT: where bounded volumes live on the engine host. */
  root: string;
  /** Why it is not enforced (or not known yet). */
  reason?: string;
}

export interface BoundedVolumeSpec {
  name: string;
  labels: Record<string, string>;
  /** What the volume may hold; the kernel refuses writes past this plus quotaSlack(). */
  quotaBytes: number;
}

export interface VolumeUsage {
  /** Bytes on disk, data and metadata, as the kernel counts them against the limit. */
  bytes: number;
  /** Files, folders and links below the volume's root. */
  files: number;
}

/** Label of a volume that is a quota'd subvolume (volumes made before enforcement have none). */
export const QUOTA_LABEL = LABEL.quota;
const MiB = 1024 * 1024;

/**
 * How far past its quota a volume may go before writes fail with EDQUOT: 1/16 of the quota, from
 * 4 MiB to 64 MiB. Going past the quota is what `over_quota` reports, so the kernel's refusal must come
 * after it; and a write Capsule's own pre-write check allowed must not fail on the metadata it adds.
 */
export function quotaSlack(quotaBytes: number): number {
  return Math.min(64 * MiB, Math.max(4 * MiB, Math.ceil(quotaBytes / 16)));
}

export interface BoundedVolumesDeps {
  runtime: ContainerRuntime;
  log: Logger;
  instance: InstanceIdentity;
  /** The sandbox image, which carries the helper script and btrfs-progs. */
  image: string;
  root: string;
  /** CAPSULE_REQUIRE_DISK_QUOTA: refuse to start (and to make volumes) without enforcement. */
  required: boolean;
  /**
   * The folder of the root its subvolumes live in (default: the instance name). Engines on one host
   * share the root: each gets its own folder, so one engine's sweep never takes another's subvolumes.
   */
  partition?: string;
}

/**
 * Volumes whose disk use the kernel bounds: each is a btrfs subvolume of CAPSULE_VOLUME_ROOT with a
 * simple-quota limit, exposed to containers as a labelled Docker volume (local driver, bind of the
 * subvolume), so mounts, labels, listing and the reaper work as for any volume. Everything on the
 * filesystem goes through the engine in helper containers (volume-helper.ts), so this works with the
 * server in a container behind a socket proxy. Without such a root, `status()` says why, and callers
 * fall back to plain Docker volumes (unbounded).
 */
export class BoundedVolumes {
  private readonly helper: VolumeHelperContext;
  private known: DiskQuotaStatus | null = null;
  private lastTry: { at: number; status: DiskQuotaStatus } | null = null;
  private probing: Promise<DiskQuotaStatus> | null = null;
  /** Names being created or removed: their subvolume may exist without their Docker volume. */
  private readonly pending = new Set<string>();
  /** Scratch volumes this server made and has not removed yet: never swept. */
  private readonly held = new Set<string>();
  /** Helper runs in progress: shutdown waits for them, so none is left behind by the exit. */
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly deps: BoundedVolumesDeps) {
    this.helper = { runtime: deps.runtime, log: deps.log, instance: deps.instance, image: deps.image, root: deps.root, live: new Set(), ...(deps.partition ? { partition: deps.partition } : {}) };
  }

  /** The last known status, without asking the engine. */
  get current(): DiskQuotaStatus {
    return this.known ?? this.lastTry?.status ?? this.unknown('not checked yet');
  }

  /** The status, probed once (an engine or image problem is retried, at most every 10 s). */
  async status(): Promise<DiskQuotaStatus> {
    if (this.known) return this.known;
    if (this.lastTry && Date.now() - this.lastTry.at < 10_000) return this.lastTry.status;
    this.probing ??= this.probe().finally(() => {
      this.probing = null;
    });
    return this.probing;
  }

  /** Start-up: probe, warn when volumes are unbounded, refuse to start when enforcement is required. */
  async verify(): Promise<DiskQuotaStatus> {
    const status = await this.status();
    if (status.enforced) {
      this.deps.log.info({ disk_quota: status }, 'disk quotas enforced');
    } else if (this.known && this.deps.required) {
      throw new ConfigurationError(`CAPSULE_REQUIRE_DISK_QUOTA=1 but disk quotas are not enforced: ${status.reason}`);
    } else {
      this.deps.log.warn({ disk_quota: status }, 'disk quotas NOT enforced: runs can fill the engine host disk');
    }
    return status;
  }

  /** True when new volumes are to be bounded; without enforcement false, or an error when it is required. */
  async enabled(): Promise<boolean> {
    const status = await this.status();
    if (status.enforced) return true;
    if (this.deps.required) throw new RuntimeFailureError(`disk quotas are required (CAPSULE_REQUIRE_DISK_QUOTA=1) but not enforced: ${status.reason}`);
    return false;
  }

  /** The subvolume of a volume, as the engine host sees it. */
  hostPath(name: string): string {
    return posix.join(this.deps.root, this.deps.partition ?? this.deps.instance.name, checkVolumeName(name));
  }

  /** Docker local-driver options that bind the volume to its subvolume (also given to mounts that may re-create it). */
  driverOptions(name: string): Record<string, string> {
    return { type: 'none', o: 'bind', device: this.hostPath(name) };
  }

  /** Make the subvolumes (one helper for all), then their Docker volumes; on failure nothing is left. */
  async create(specs: BoundedVolumeSpec[]): Promise<void> {
    const names = specs.map((s) => checkVolumeName(s.name));
    names.forEach((n) => this.pending.add(n));
    try {
      await this.run('create', specs.flatMap((s) => [s.name, String(s.quotaBytes + quotaSlack(s.quotaBytes))]));
      const made: string[] = [];
      try {
        for (const s of specs) {
          await this.deps.runtime.createVolume(s.name, { ...s.labels, [QUOTA_LABEL]: 'btrfs' }, this.driverOptions(s.name));
          made.push(s.name);
          if (s.labels[LABEL.kind] === 'scratch') this.held.add(s.name);
        }
      } catch (err) {
        await Promise.allSettled(made.map((n) => this.deps.runtime.removeVolume(n)));
        made.forEach((n) => this.held.delete(n));
        await this.run('delete', names).catch((e) => this.deps.log.error({ err: e, volumes: names }, 'subvolume cleanup failed (the reaper will retry)'));
        throw err;
      }
    } finally {
      names.forEach((n) => this.pending.delete(n));
    }
  }

  /**
   * Remove Docker volumes, then the subvolumes of those that went (one helper). A volume in use
   * (VolumeInUseError) keeps its subvolume; the first error is thrown after the others were tried.
   */
  async remove(names: string[]): Promise<void> {
    const gone: string[] = [];
    let failure: unknown = null;
    names.forEach((n) => this.pending.add(checkVolumeName(n)));
    try {
      for (const name of names) {
        // Whatever happens, this server stops holding it: what is left, the reaper's sweep retries.
        this.held.delete(name);
        try {
          await this.deps.runtime.removeVolume(name);
          gone.push(name);
        } catch (err) {
          failure ??= err;
        }
      }
      if (gone.length) await this.run('delete', gone);
    } finally {
      names.forEach((n) => this.pending.delete(n));
    }
    if (failure) throw failure;
  }

  /** Exact usage of each volume (one helper for all, after a filesystem commit); null when its subvolume is gone. */
  async usage(names: string[]): Promise<Map<string, VolumeUsage | null>> {
    const found = new Map<string, VolumeUsage | null>();
    if (names.length === 0) return found;
    for (const line of await this.run('usage', names.map(checkVolumeName))) {
      const [name, bytes, files] = line.split(' ');
      if (!name) continue;
      if (bytes === 'missing') found.set(name, null);
      else if (/^\d+$/.test(bytes ?? '') && /^\d+$/.test(files ?? '')) found.set(name, { bytes: Number(bytes), files: Number(files) });
      else throw new RuntimeFailureError(`volume helper could not read the usage of ${name} (${line})`);
    }
    return found;
  }

  /**
   * The reaper's sweep: per-run scratch volumes whose run is over (a crash, or a failed removal), and
   * subvolumes left without a Docker volume (a crash between the two steps of create or remove).
   */
  async sweep(): Promise<number> {
    if (!(await this.status()).enforced) return 0;
    const { runtime, instance } = this.deps;
    const scratch = await runtime.listVolumes({ [LABEL.kind]: 'scratch', [LABEL.instance]: instance.name });
    const dead = scratch.filter((v) => !this.held.has(v.name) && !this.pending.has(v.name));
    if (dead.length) await this.remove(dead.map((v) => v.name)).catch((err) => this.deps.log.warn({ err: (err as Error).message }, 'scratch volume sweep incomplete'));
    // Order matters: subvolumes first, then what was pending, then the Docker volumes. A subvolume
    // listed here whose creation finished before the snapshot has its Docker volume by then.
    const subvolumes = await this.run('list', []);
    const pending = new Set(this.pending);
    const volumes = new Set((await runtime.listVolumes({ [LABEL.instance]: instance.name })).map((v) => v.name));
    const orphans = subvolumes.filter((n) => !volumes.has(n) && !pending.has(n) && !this.pending.has(n));
    if (orphans.length) await this.run('delete', orphans);
    for (const name of orphans) this.deps.log.info({ volume: name }, 'removed a subvolume left without its Docker volume');
    return dead.length + orphans.length;
  }

  /** Wait (at most `ms`) for helper runs in progress to finish and remove their containers (shutdown). */
  async close(ms = 10_000): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([Promise.allSettled([...this.running]), timeout]);
    clearTimeout(timer);
  }

  /** True when a container with these labels is a volume helper in use right now (the reaper's question). */
  ownsContainer(labels: Record<string, string>): boolean {
    return ownedBy(labels, ['volume-helper'], this.helper.live);
  }

  private async probe(): Promise<DiskQuotaStatus> {
    try {
      const ask = async () => probeVerdict(new Map((await this.run('probe', [])).map((line) => [line.split(' ')[0], line.split(' ').slice(1).join(' ')])), this.deps.root);
      // A "no" is kept for good, so it is asked twice: `btrfs qgroup show` failed once under a loaded
      // full suite (quotas read as disabled on a filesystem that had them).
      let reason = await ask();
      if (reason) reason = await new Promise((r) => setTimeout(r, 500)).then(ask);
      this.known = reason ? { enforced: false, mechanism: 'none', root: this.deps.root, reason } : { enforced: true, mechanism: 'btrfs-squota', root: this.deps.root };
      return this.known;
    } catch (err) {
      // Engine down or image missing: unknown for now, asked again later. Anything else is the answer.
      const status = this.unknown((err as Error).message);
      if (err instanceof EngineUnavailableError || err instanceof ImageMissingError) this.lastTry = { at: Date.now(), status };
      else this.known = { ...status, reason: `${this.deps.root} cannot be used: ${(err as Error).message}` };
      return this.known ?? status;
    }
  }

  private run(command: VolumeCommand, args: string[]): Promise<string[]> {
    if (this.closed) return Promise.reject(new ShuttingDownError('the server is shutting down'));
    const p = runVolumeHelper(this.helper, command, args);
    this.running.add(p);
    void p.finally(() => this.running.delete(p)).catch(() => undefined);
    return p;
  }

  private unknown(why: string): DiskQuotaStatus {
    return { enforced: false, mechanism: 'none', root: this.deps.root, reason: `not known yet: ${why}` };
  }
}

/** Why the probe's facts do not amount to enforcement, or null when they do. */
function probeVerdict(facts: Map<string | undefined, string>, root: string): string | null {
  const fix = 'run scripts/provision-volume-root.sh as root on the engine host';
  const fstype = facts.get('fstype');
  if (fstype !== 'btrfs') return `${root} is not a btrfs filesystem (it is ${fstype ?? 'unknown'}): ${fix}`;
  const mode = facts.get('quota_mode');
  if (mode === 'disabled') return `quotas are not enabled on ${root}: ${fix}`;
  if (mode === 'qgroup') return `${root} has full qgroups, which do not bound a subvolume a run nests in its volume; simple quotas (Linux 6.7+) do: ${fix}`;
  if (mode !== 'squota') return `quota mode of ${root} is ${mode ?? 'unknown'}, not squota: ${fix}`;
  if (facts.get('nested_bounded') !== 'yes') return `a subvolume nested in a volume on ${root} was not bounded by its limit`;
  return null;
}
