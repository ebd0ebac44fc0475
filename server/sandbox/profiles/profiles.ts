import { readdirSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import type { EgressSpec } from '../../egress/egress-schema.js';
import { ConfigurationError, ForbiddenError, ProfileNotFoundError } from '../../errors.js';
import type { Ulimit } from '../../runtime/container-runtime.js';
import type { ProfileInfo } from '../../schemas/system-outputs.js';
import { formatByteSize } from './byte-size.js';
import { type ProfileFile, readProfileFile } from './profile-file.js';
import { checkEgressProfile, describeEgress } from './profile-egress.js';
import { type CommandPolicy, compilePolicy, describePolicy } from './profile-policy.js';
import { EngineRuntimes } from './profile-runtimes.js';

export { ENV_NAME, profileFileSchema } from './profile-file.js';

/** A validated profile with everything resolved to plain numbers. */
export interface Profile {
  name: string;
  description: string;
  image: string;
  runtime?: string;
  /** True: a runtime the engine lacks disables this profile (listed, refused) instead of stopping start-up. */
  optional?: boolean;
  /** Command policy checked before any container exists (profile-policy.ts); absent = none. */
  policy?: CommandPolicy;
  /** With a memory guard: the engine's limit is the memory limit plus this, and the launcher kills at the limit. */
  memoryGuardHeadroomBytes?: number;
  /** 'none', or the Docker network a networked profile attaches. */
  network: string;
  /** Controlled egress through Capsule's proxy (then `network` is 'none'); see server/egress/. */
  egress?: EgressSpec;
  /** Seccomp profile JSON (Docker's default when absent). */
  seccompJson?: string;
  /** Env names (or NAME_* prefixes) a client may set; absent = any valid name. */
  envAllowlist?: string[];
  /** False for networked and egress profiles unless CAPSULE_ALLOW_NETWORK_PROFILES=1. */
  enabled: boolean;
  disabledReason?: string;
  memoryBytes: number;
  cpus: number;
  pidsLimit: number;
  timeoutDefaultMs: number;
  timeoutMaxMs: number;
  /** Background processes (start_process) get their own, longer, timeouts. */
  processTimeoutDefaultMs: number;
  processTimeoutMaxMs: number;
  outputMaxBytesPerStream: number;
  tmpfsTmpBytes: number;
  tmpfsWorkspaceBytes: number;
  ulimits: Ulimit[];
  env: Record<string, string>;
  /** Warm containers kept started for this profile, and how long one may wait idle. */
  pool: { size: number; maxIdleMs: number };
  /** Labels an engine must carry to run it (profile key `placement.engine_labels`); absent = any engine. */
  engineLabels?: Record<string, string>;
  /** The file it came from, for messages. */
  source: string;
}

export interface ProfileLoadOptions {
  defaultImage: string;
  allowNetwork: boolean;
  /** Read a file named by the profile (seccomp), relative to the profile's folder. */
  readRelative?: (file: string) => string;
}

function profileUlimits(u: ProfileFile['ulimits']): Ulimit[] {
  const ulimits: Ulimit[] = [
    { name: 'nofile', soft: u.nofile, hard: u.nofile },
    { name: 'nproc', soft: u.nproc, hard: u.nproc },
    { name: 'core', soft: 0, hard: 0 },
  ];
  if (u.fsize) ulimits.push({ name: 'fsize', soft: u.fsize, hard: u.fsize });
  return ulimits;
}

function loadSeccomp(file: string, source: string, opts: ProfileLoadOptions): string {
  try {
    const text = opts.readRelative ? opts.readRelative(file) : readFileSync(file, 'utf8');
    return JSON.stringify(JSON.parse(text));
  } catch (err) {
    throw new ConfigurationError(`profile ${source}: seccomp: cannot load ${file}: ${(err as Error).message}`);
  }
}

/** Parse one profile file's text; errors name the file and the key. */
export function parseProfile(name: string, text: string, source: string, options: ProfileLoadOptions | string): Profile {
  const opts: ProfileLoadOptions = typeof options === 'string' ? { defaultImage: options, allowNetwork: false } : options;
  const p = readProfileFile(text, source);
  checkEgressProfile(source, p);
  const ulimits = profileUlimits(p.ulimits);
  const seccompJson = p.seccomp ? loadSeccomp(p.seccomp, source, opts) : undefined;
  const networked = p.network !== 'none' || p.egress !== undefined;
  const enabled = !networked || opts.allowNetwork;
  return {
    name,
    description: p.description,
    image: p.image ?? opts.defaultImage,
    ...(p.runtime ? { runtime: p.runtime } : {}),
    ...(p.optional ? { optional: true } : {}),
    ...(p.policy ? { policy: compilePolicy(p.policy) } : {}),
    ...(p.memory_guard ? { memoryGuardHeadroomBytes: p.memory_guard.headroom } : {}),
    network: p.network,
    ...(p.egress ? { egress: p.egress } : {}),
    ...(p.placement ? { engineLabels: p.placement.engine_labels } : {}),
    ...(seccompJson ? { seccompJson } : {}),
    ...(p.env_allowlist ? { envAllowlist: p.env_allowlist } : {}),
    enabled,
    ...(enabled ? {} : { disabledReason: `profile "${name}" has network access and is disabled: the operator must set CAPSULE_ALLOW_NETWORK_PROFILES=1` }),
    memoryBytes: p.limits.memory,
    cpus: p.limits.cpus,
    pidsLimit: p.limits.pids,
    timeoutDefaultMs: p.timeout.default_ms,
    timeoutMaxMs: p.timeout.max_ms,
    processTimeoutDefaultMs: p.process_timeout.default_ms,
    processTimeoutMaxMs: p.process_timeout.max_ms,
    outputMaxBytesPerStream: p.output.max_bytes_per_stream,
    tmpfsTmpBytes: p.tmpfs.tmp,
    tmpfsWorkspaceBytes: p.tmpfs.workspace,
    ulimits,
    env: p.env,
    pool: { size: p.pool.size, maxIdleMs: p.pool.max_idle_s * 1000 },
    source,
  };
}

/** The loaded profiles, by name. */
export class ProfileRegistry {
  /** The engine's OCI runtimes as last seen: which runtime-bound profiles can run now. */
  readonly engineRuntimes = new EngineRuntimes();

  private constructor(private readonly profiles: Map<string, Profile>) {}

  /** Load every *.yaml / *.yml file of `dir`; the file name (without extension) is the profile name. */
  static load(dir: string, options: ProfileLoadOptions | string): ProfileRegistry {
    const base: ProfileLoadOptions = typeof options === 'string' ? { defaultImage: options, allowNetwork: false } : options;
    let files: string[];
    try {
      files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
    } catch (err) {
      throw new ConfigurationError(`cannot read profiles folder ${dir}: ${(err as Error).message}`);
    }
    const profiles = new Map<string, Profile>();
    for (const file of files) {
      const name = basename(file).replace(/\.ya?ml$/, '');
      if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
        throw new ConfigurationError(`profile file ${join(dir, file)}: name "${name}" must match [a-z0-9][a-z0-9_-]*`);
      }
      const source = join(dir, file);
      const readRelative = (file: string) => readFileSync(isAbsolute(file) ? file : join(dir, file), 'utf8');
      profiles.set(name, parseProfile(name, readFileSync(source, 'utf8'), source, { ...base, readRelative }));
    }
    if (!profiles.has('default')) throw new ConfigurationError(`profiles folder ${dir} has no default.yaml`);
    return new ProfileRegistry(profiles);
  }

  static fromProfiles(list: Profile[]): ProfileRegistry {
    return new ProfileRegistry(new Map(list.map((p) => [p.name, p])));
  }

  /** The named profile (default when omitted), or ProfileNotFoundError listing the known names. */
  get(name = 'default'): Profile {
    const profile = this.profiles.get(name);
    if (!profile) {
      throw new ProfileNotFoundError(`unknown profile "${name}"; available: ${[...this.profiles.keys()].join(', ')}`);
    }
    return profile;
  }

  /** The named profile when it may be used; a disabled profile is ForbiddenError with the reason. */
  usable(name = 'default'): Profile {
    const profile = this.get(name);
    const reason = this.disabledReason(profile);
    if (reason !== null) throw new ForbiddenError(reason);
    return profile;
  }

  /** Why a profile cannot be used now (not allowed, or its runtime missing from the engine), or null. */
  disabledReason(profile: Profile): string | null {
    if (!profile.enabled) return profile.disabledReason ?? `profile "${profile.name}" is disabled`;
    return this.engineRuntimes.missing(profile);
  }

  /** Every profile as list_profiles shows it, with its availability and runtime as of the last engine check. */
  describeAll(): ProfileInfo[] {
    return this.all().map((p) => {
      const reason = this.disabledReason(p);
      return { ...describeProfile(p), enabled: reason === null, ...(reason === null ? {} : { disabled_reason: reason }), runtime: this.engineRuntimes.effective(p) };
    });
  }

  /** Every profile, default first, then by name. */
  all(): Profile[] {
    return [...this.profiles.values()].sort((a, b) => (a.name === 'default' ? -1 : b.name === 'default' ? 1 : a.name.localeCompare(b.name)));
  }

  /** Distinct images the enabled profiles use. */
  images(): string[] {
    return [...new Set(this.all().filter((p) => p.enabled).map((p) => p.image))];
  }

  /** Distinct OCI runtimes the enabled, required (not optional) profiles name: without them Capsule is not ready. */
  runtimes(): string[] {
    return [...new Set(this.all().flatMap((p) => (p.enabled && !p.optional && p.runtime ? [p.runtime] : [])))];
  }

  /** Distinct Docker networks the enabled profiles attach. */
  networks(): string[] {
    return [...new Set(this.all().flatMap((p) => (p.enabled && p.network !== 'none' ? [p.network] : [])))];
  }
}

/** A profile's limits in plain words and numbers, as list_profiles shows them (its output schema's type). */
export function describeProfile(p: Profile): ProfileInfo {
  return {
    name: p.name,
    description: p.description,
    image: p.image,
    enabled: p.enabled,
    ...(p.disabledReason ? { disabled_reason: p.disabledReason } : {}),
    runtime: p.runtime ?? 'engine default',
    ...(p.policy ? { policy: describePolicy(p.policy) } : {}),
    seccomp: p.seccompJson ? 'custom' : 'docker default',
    network: p.egress ? 'egress proxy' : p.network,
    ...(p.egress ? { egress: describeEgress(p.egress) } : {}),
    memory_bytes: p.memoryBytes,
    memory: formatByteSize(p.memoryBytes),
    cpus: p.cpus,
    pids: p.pidsLimit,
    timeout_default_ms: p.timeoutDefaultMs,
    timeout_max_ms: p.timeoutMaxMs,
    process_timeout_default_ms: p.processTimeoutDefaultMs,
    process_timeout_max_ms: p.processTimeoutMaxMs,
    output_max_bytes_per_stream: p.outputMaxBytesPerStream,
    tmpfs_tmp_bytes: p.tmpfsTmpBytes,
    tmpfs_workspace_bytes: p.tmpfsWorkspaceBytes,
    read_only_root: true,
    user: '10001:10001',
    pool_size: p.pool.size,
  };
}
