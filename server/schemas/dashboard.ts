import { z } from 'zod';
import { diskQuotaSchema } from './disk-quota.js';
import { poolProfileState } from './pool-state.js';
import { runRecordSummaryObject, runStateEnum, runStatsObject } from './run-outputs.js';

// The REST routes the dashboard (/ui) reads, beyond the run and workspace routes: queries it sends and
// what it gets back. The OpenAPI document is generated from these.

/** GET /v1/whoami: who the token is and what the dashboard may show them. */
export const whoamiObject = z.object({
  owner: z.string().describe('The token\'s name, or "local" without tokens.'),
  admin: z.boolean().describe('Listed in CAPSULE_ADMIN_OWNERS: sees and may kill every owner\'s runs.'),
  auth: z.enum(['bearer', 'none']).describe('"none": the server has no tokens (loopback only) and the dashboard needs no sign-in.'),
  trace_url_template: z.string().nullable().describe('CAPSULE_TRACE_URL_TEMPLATE, with {trace_id} to fill in.'),
});

/** GET /v1/runs query. */
export const runListQuery = z
  .object({
    status: runStateEnum.optional(),
    profile: z.string().max(64).optional(),
    owner: z.string().max(64).optional().describe('Admins only: one owner\'s runs (default: every owner\'s for admins, your own otherwise).'),
    limit: z.coerce.number().int().min(1).max(500).optional().describe('Most records (default 100).'),
    before: z.iso.datetime().optional().describe('Only runs started before this time (paging back).'),
  })
  .strict();

/** GET /v1/runs: runs newest first, without their results. */
export const runListObject = z.object({
  runs: z.array(runRecordSummaryObject),
  facets: z.object({ profiles: z.array(z.string()), owners: z.array(z.string()) }).describe('Values the filters can take over the visible runs.'),
  all_owners: z.boolean().describe('True when the list spans every owner (an admin without an owner filter).'),
});

/** GET /v1/runs/:id/stats: live stats of a running process, or the final stats of a finished run. */
export const runStatsView = z.object({
  run_id: z.string(),
  state: runStateEnum,
  stats: runStatsObject.nullable().describe('Null until the launcher first reports (about once a second), or for a run still going that is not a process.'),
  memory_limit_bytes: z.number().int().nullable().describe('The profile\'s memory limit (a call may have narrowed it).'),
});

/** GET /v1/runs/:id/artifacts. */
export const runArtifactList = z.object({
  artifacts: z.array(z.object({ name: z.string(), mime_type: z.string(), href: z.string() })),
});

/** One Docker engine as the dashboard shows it. */
export const engineHealthObject = z.object({
  name: z.string(),
  endpoint: z.string().nullable().describe('Null when the engine did not answer.'),
  ready: z.boolean(),
  reason: z.string().nullable().describe('Why it is not ready.'),
  version: z.string().nullable(),
  api_version: z.string().nullable(),
  os: z.string().nullable(),
  kernel: z.string().nullable(),
  cgroup_version: z.string().nullable(),
  runtimes: z.array(z.string()),
});

/** GET /v1/system: a small summary from the state and metrics the server already keeps. */
export const systemSummaryObject = z.object({
  capsule_version: z.string(),
  instance_id: z.string(),
  engines: z.array(engineHealthObject),
  host: z.object({ cpus: z.number(), memory_bytes: z.number() }).nullable(),
  pools: z.record(z.string(), poolProfileState).describe('Warm pool fill per profile.'),
  runs: z.object({ active: z.number(), queued: z.number(), max_concurrent: z.number() }),
  sessions: z.object({
    total: z.number().int(),
    yours: z.number().int(),
    by_owner: z.record(z.string(), z.number().int()).nullable().describe('Admins only.'),
  }),
  scope: z.enum(['all', 'own']).describe('Whether the run counts below are every owner\'s (admins) or your own.'),
  runs_per_minute: z.array(z.object({ minute: z.string(), started: z.number().int() })).describe('The last 30 minutes, oldest first.'),
  outcomes_last_hour: z.record(z.string(), z.number().int()).describe('Runs that finished in the last hour, by status.'),
  tool_errors: z
    .array(z.object({ tool: z.string(), type: z.string(), count: z.number() }))
    .nullable()
    .describe('Failed tool calls by error type since start (the mcp.tool.errors metric); null when metrics are off.'),
  disk_quota: diskQuotaSchema,
});
export type SystemSummary = z.infer<typeof systemSummaryObject>;

/** GET /v1/workspaces/:id/entries query. */
export const entriesQuery = z
  .object({
    path: z.string().max(4096).optional().describe('A folder inside the workspace (default: its root).'),
    recursive: z.enum(['true', 'false', '1', '0']).optional(),
  })
  .strict();
