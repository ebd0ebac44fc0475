import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigurationError, ProfileNotFoundError } from '../errors.js';
import type { Ulimit } from '../runtime/container-runtime.js';
import { formatByteSize, parseByteSize } from './byte-size.js';

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
  limits: z.strictObject({
    memory: byteSize.refine((b) => b >= 6 * 1024 ** 2, 'memory must be at least 6 MiB (the engine minimum)'),
    cpus: z.number().positive().max(1024),
    pids: z.number().int().min(8).max(1 << 22),
  }),
  timeout: z
    .strictObject({ default_ms: positiveInt, max_ms: positiveInt })
    .refine((t) => t.default_ms <= t.max_ms, 'timeout.default_ms must not exceed timeout.max_ms'),
  output: z.strictObject({ max_bytes_per_stream: byteSize }),
  tmpfs: z.strictObject({ tmp: byteSize, workspace: byteSize }),
  ulimits: z.strictObject({
    nofile: positiveInt,
    nproc: positiveInt,
    fsize: byteSize.optional(),
  }),
  env: z.record(z.string().regex(ENV_NAME, 'env names must match [A-Za-z_][A-Za-z0-9_]*'), z.string()).default({}),
});

/** A validated profile with everything resolved to plain numbers. */
export interface Profile {
  name: string;
  description: string;
  image: string;
  runtime?: string;
  memoryBytes: number;
  cpus: number;
  pidsLimit: number;
  timeoutDefaultMs: number;
  timeoutMaxMs: number;
  outputMaxBytesPerStream: number;
  tmpfsTmpBytes: number;
  tmpfsWorkspaceBytes: number;
  ulimits: Ulimit[];
  env: Record<string, string>;
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

/** Parse one profile file's text; errors name the file and the key. */
export function parseProfile(name: string, text: string, source: string, defaultImage: string): Profile {
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
  const ulimits: Ulimit[] = [
    { name: 'nofile', soft: p.ulimits.nofile, hard: p.ulimits.nofile },
    { name: 'nproc', soft: p.ulimits.nproc, hard: p.ulimits.nproc },
    { name: 'core', soft: 0, hard: 0 },
  ];
  if (p.ulimits.fsize) ulimits.push({ name: 'fsize', soft: p.ulimits.fsize, hard: p.ulimits.fsize });
  return {
    name,
    description: p.description,
    image: p.image ?? defaultImage,
    ...(p.runtime ? { runtime: p.runtime } : {}),
    memoryBytes: p.limits.memory,
    cpus: p.limits.cpus,
    pidsLimit: p.limits.pids,
    timeoutDefaultMs: p.timeout.default_ms,
    timeoutMaxMs: p.timeout.max_ms,
    outputMaxBytesPerStream: p.output.max_bytes_per_stream,
    tmpfsTmpBytes: p.tmpfs.tmp,
    tmpfsWorkspaceBytes: p.tmpfs.workspace,
    ulimits,
    env: p.env,
    source,
  };
}

/** The loaded profiles, by name. */
export class ProfileRegistry {
  private constructor(private readonly profiles: Map<string, Profile>) {}

  /** Load every *.yaml / *.yml file of `dir`; the file name (without extension) is the profile name. */
  static load(dir: string, defaultImage: string): ProfileRegistry {
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
      profiles.set(name, parseProfile(name, readFileSync(source, 'utf8'), source, defaultImage));
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

  all(): Profile[] {
    return [...this.profiles.values()];
  }

  /** Distinct images the profiles use. */
  images(): string[] {
    return [...new Set(this.all().map((p) => p.image))];
  }
}

/** A profile's limits in plain words and numbers, as list_profiles shows them. */
export function describeProfile(p: Profile) {
  return {
    name: p.name,
    description: p.description,
    image: p.image,
    network: 'none',
    memory_bytes: p.memoryBytes,
    memory: formatByteSize(p.memoryBytes),
    cpus: p.cpus,
    pids: p.pidsLimit,
    timeout_default_ms: p.timeoutDefaultMs,
    timeout_max_ms: p.timeoutMaxMs,
    output_max_bytes_per_stream: p.outputMaxBytesPerStream,
    tmpfs_tmp_bytes: p.tmpfsTmpBytes,
    tmpfs_workspace_bytes: p.tmpfsWorkspaceBytes,
    read_only_root: true,
    user: '10001:10001',
  };
}
