import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { egressSchema } from '../../egress/egress-schema.js';
import { ConfigurationError } from '../../errors.js';
import { parseByteSize } from './byte-size.js';
import { policyFileSchema } from './profile-policy.js';

// The YAML file format of a sandbox profile (profiles.ts resolves it into a Profile).

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
  // Which engines may run it (CAPSULE_ENGINES labels, or Swarm node labels): every label must match.
  placement: z.strictObject({ engine_labels: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,127}$/, 'label keys are [A-Za-z0-9_./-]'), z.string().min(1)) }).optional(),
});

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `unknown key "${at ? `${at}.` : ''}${k}"`).join(', ');
  }
  return `${at || '(top level)'}: ${issue.message}`;
}

export type ProfileFile = z.infer<typeof profileFileSchema>;

export function readProfileFile(text: string, source: string): ProfileFile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigurationError(`profile ${source}: not valid YAML: ${(err as Error).message}`);
  }
  const parsed = profileFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigurationError(`profile ${source}: ${parsed.error.issues.map(describeIssue).join('; ')}`);
  return parsed.data;
}

