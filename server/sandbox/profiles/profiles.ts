import { readdirSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { egressSchema, type EgressSpec } from '../../egress/egress-schema.js';
import { ConfigurationError, ForbiddenError, ProfileNotFoundError } from '../../errors.js';
import type { Ulimit } from '../../runtime/container-runtime.js';
import type { ProfileInfo } from '../../schemas/system-outputs.js';
import { formatByteSize, parseByteSize } from './byte-size.js';
import { checkEgressProfile, describeEgress } from './profile-egress.js';
import { type CommandPolicy, compilePolicy, describePolicy, policyFileSchema } from './profile-policy.js';
import { EngineRuntimes } from './profile-runtimes.js';

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const byteSize = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const bytes = parseByteSize(value);
  if (bytes === null || bytes <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a size (use e.g. 512m, 64MiB, 1g or a byte count)` });
    return z.NEVER;
  }
  return bytes;
});
const positiveInt = z.number().int().positive();

/** The YAML file format of a sandbox profile. Unknown keys are errors, so a typo never silently loosens a limit. */
export const profileFileSchema = z.strictObject({
  description: z.string().min(1).max(300),
  image: z.string().min(1).optional(),
  runtime: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  // With `runtime`: when the engine lacks it, list the profile as disabled instead of stopping start-up.
  optional: z.boolean().default(false),
  policy: policyFileSchema.optional(),
  // The launcher enforces limits.memory itself and the engine's limit is memory + headroom (gvisor.yaml says why).
  memory_guard: z.strictObject({ headroom: byteSize }).optional(),
  network: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/).default('none'),
  seccomp: z.string().min(1).optional(),
  env_allowlist: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, 'entries are env names, optionally ending in *')).optional(),
  limits: z.strictObject({
    memory: byteSize.refine((b) => b >= 6 * 1024 ** 2, 'memory must be at least 6 MiB (the engine minimum)'),
    cpus: z.number().positive().max(1024),
    pids: z.number().int().min(8).max(1 << 22),
  }),
  timeout: z
    .strictObject({ default_ms: positiveInt, max_ms: positiveInt })
    .refine((t) => t.default_ms <= t.max_ms, 'timeout.default_ms must not exceed timeout.max_ms'),
  process_timeout: z
    .strictObject({ default_ms: positiveInt, max_ms: positiveInt })
    .refine((t) => t.default_ms <= t.max_ms, 'process_timeout.default_ms must not exceed process_timeout.max_ms')
    .default({ default_ms: 600_000, max_ms: 3_600_000 }),
  output: z.strictObject({
    // Results are held in memory, and the launcher's ring (half the cap) lives in the container.
    max_bytes_per_stream: byteSize.refine((b) => b >= 1024 && b <= 256 * 1024 ** 2, 'output.max_bytes_per_stream must be from 1 KiB to 256 MiB'),
  }),
  tmpfs: z.strictObject({ tmp: byteSize, workspace: byteSize }),
  ulimits: z.strictObject({
    nofile: positiveInt,
    nproc: positiveInt,
    fsize: byteSize.optional(),
  }),
  env: z.record(z.string().regex(ENV_NAME, 'env names must match [A-Za-z_][A-Za-z0-9_]*'), z.string()).default({}),
  pool: z.strictObject({ size: z.number().int().min(0).max(64), max_idle_s: positiveInt }).default({ size: 0, max_idle_s: 300 }),
  egress: egressSchema.optional(),
});

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
  /** The file it came from, for messages. */
  source: string;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `unknown key "${at ? `${at}.` : ''}${k}"`).join(', ');
  }
  return `${at || '(top level)'}: ${issue.message}`;
}

export interface ProfileLoadOptions {
  defaultImage: string;
  allowNetwork: boolean;
  /** Read a file named by the profile (seccomp), relative to the profile's folder. */
  readRelative?: (file: string) => string;
}

/** Parse one profile file's text; errors name the file and the key. */
export function parseProfile(name: string, text: string, source: string, options: ProfileLoadOptions | string): Profile {
  const opts: ProfileLoadOptions = typeof options === 'string' ? { defaultImage: options, allowNetwork: false } : options;
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigurationError(`profile ${source}: not valid YAML: ${(err as Error).message}`);
  }
  const parsed = profileFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigurationError(`profile ${source}: ${parsed.error.issues.map(describeIssue).join('; ')}`);
  }
  const p = parsed.data;
  checkEgressProfile(source, p);
  const ulimits: Ulimit[] = [
    { name: 'nofile', soft: p.ulimits.nofile, hard: p.ulimits.nofile },
    { name: 'nproc', soft: p.ulimits.nproc, hard: p.ulimits.nproc },
    { name: 'core', soft: 0, hard: 0 },
  ];
  if (p.ulimits.fsize) ulimits.push({ name: 'fsize', soft: p.ulimits.fsize, hard: p.ulimits.fsize });
  let seccompJson: string | undefined;
  if (p.seccomp) {
    try {
      const text = opts.readRelative ? opts.readRelative(p.seccomp) : readFileSync(p.seccomp, 'utf8');
      seccompJson = JSON.stringify(JSON.parse(text));
    } catch (err) {
      throw new ConfigurationError(`profile ${source}: seccomp: cannot load ${p.seccomp}: ${(err as Error).message}`);
    }
  }
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
