import { diskQuotaSchema } from './disk-quota.js';
import { poolProfileState } from './pool-state.js';
import { z } from 'zod';

// What list_profiles and system_info return.

/** A profile's limits in plain words and numbers. */
export const profileInfoObject = z.object({
  name: z.string(),
  description: z.string(),
  image: z.string(),
  enabled: z.boolean().describe('False for a networked profile the operator has not allowed (CAPSULE_ALLOW_NETWORK_PROFILES), or an optional profile whose OCI runtime the engine does not offer.'),
  disabled_reason: z.string().optional().describe('Why the profile is disabled, when it is.'),
  runtime: z.string().describe('OCI runtime its containers run under (e.g. runc, runsc): the profile\'s own, else the engine\'s default ("engine default" until the engine was reached).'),
  policy: z
    .object({ deny: z.array(z.string()), allow: z.array(z.string()).nullable(), max_input_bytes: z.number() })
    .optional()
    .describe('The command policy checked on commands and code before a run (defence in depth, not the boundary), when the profile has one.'),
  seccomp: z.enum(['custom', 'docker default']),
  network: z.string().describe('"none", the Docker network a networked profile attaches, or "egress proxy".'),
  egress: z
    .object({
      allow: z.array(z.string()).describe('Hosts (name or *.suffix, optional :port) a run may reach through the proxy.'),
      methods: z.array(z.string()).nullable().describe('The only HTTP methods allowed; null: any.'),
      secrets: z.array(z.object({ name: z.string(), hosts: z.array(z.string()) })).describe('Env names that hold a per-run placeholder the proxy swaps for the real value, for these hosts only.'),
    })
    .optional()
    .describe('For an egress profile: what its runs may reach through the egress proxy.'),
  memory_bytes: z.number(),
  memory: z.string().describe('memory_bytes in words, e.g. "512 MiB".'),
  cpus: z.number(),
  pids: z.number(),
  timeout_default_ms: z.number(),
  timeout_max_ms: z.number(),
  process_timeout_default_ms: z.number().describe('Default wall-time limit of start_process.'),
  process_timeout_max_ms: z.number(),
  output_max_bytes_per_stream: z.number(),
  tmpfs_tmp_bytes: z.number(),
  tmpfs_workspace_bytes: z.number(),
  read_only_root: z.boolean(),
  user: z.string(),
  pool_size: z.number().describe('Warm containers kept started for this profile.'),
});
export type ProfileInfo = z.infer<typeof profileInfoObject>;

export const listProfilesOutput = z.object({ profiles: z.array(profileInfoObject), disk_quota: diskQuotaSchema });

/** One engine Capsule runs on, as system_info and /readyz report it. */
export const engineReportObject = z.object({
  name: z.string().describe('Its name ("default" with the one engine of DOCKER_HOST).'),
  endpoint: z.string(),
  labels: z.record(z.string(), z.string()).describe('Placement labels (CAPSULE_ENGINES, or Swarm node labels).'),
  reachable: z.boolean().describe('False once it stopped answering its health probe, until it answers again.'),
  availability: z.enum(['active', 'drain', 'pause']).describe('A Swarm node\'s availability; only active engines get new runs.'),
  can_serve: z.boolean().describe('Reachable, active, and every profile image present: it takes new runs.'),
  version: z.string().nullable(),
  runtimes: z.array(z.string()).describe('OCI runtimes it offers.'),
  images_present: z.boolean().nullable().describe('Every profile image is on it (null: not known yet).'),
  missing_images: z.array(z.string()),
  live_runs: z.number().int().describe('Runs placed on it and not over.'),
  pool_idle: z.number().int().describe('Idle warm containers on it.'),
  last_error: z.string().nullable().describe('The last probe failure, if any.'),
  checked_at: z.string().nullable(),
});
export type EngineReport = z.infer<typeof engineReportObject>;

/** Engine, host and Capsule facts (system_info). */
export const systemInfoObject = z.object({
  capsule_version: z.string(),
  instance_id: z.string(),
  engine: z.object({
    version: z.string(),
    api_version: z.string(),
    os: z.string(),
    kernel: z.string(),
    cgroup_version: z.string(),
    runtimes: z.array(z.string()),
    endpoint: z.string(),
  }),
  host: z.object({ cpus: z.number(), memory_bytes: z.number() }),
  images: z.array(
    z.object({
      ref: z.string(),
      present: z.boolean(),
      id: z.string().nullable(),
      size_bytes: z.number().nullable(),
      created_at: z.string().nullable(),
    }),
  ),
  runs: z.object({ active: z.number(), queued: z.number(), max_concurrent: z.number() }),
  pool: z.record(z.string(), z.number()).describe('Idle warm containers per profile.'),
  pool_state: z.record(z.string(), poolProfileState).describe('Per pooled profile: target size, idle, refill and retry status, last error.'),
  disk_quota: diskQuotaSchema,
  engines: z.array(engineReportObject).describe('Every engine runs are placed on; `engine` above is the primary\'s.'),
});
export type SystemInfo = z.infer<typeof systemInfoObject>;
