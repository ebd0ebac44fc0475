import { z } from 'zod';

// What runs, processes and their records return: the MCP outputSchemas, the REST/OpenAPI bodies and
// the service types are all these schemas (types are z.infer of them), so they cannot drift apart.
// zod lists a z.object in JSON Schema with additionalProperties: false, and the SDK client rejects a
// result with a key the schema lacks; optional fields are .optional(), never-absent nullable ones .nullable().

/** How a run ended: the one status enum of results, records, processes and the dev tools. */
export const runStatusEnum = z.enum(['exited', 'timed_out', 'oom_killed', 'killed', 'failed']).describe('How the run ended.');
export type RunStatus = z.infer<typeof runStatusEnum>;

/** A run or process as recorded or polled: running, or how it ended. */
export const runStateEnum = z.enum(['running', ...runStatusEnum.options]);
export type RunState = z.infer<typeof runStateEnum>;

// A figure is null when the launcher could not read it: no reading at all (the container died before
// its first report), or a runtime that does not expose it (gVisor's cgroupfs has no blkio controller).
const figure = (what: string) => z.number().int().nullable().describe(`${what}; null when the runtime does not expose it or no reading arrived.`);

/** What a run cost, read from its cgroup by the in-container launcher. */
export const runStatsObject = z
  .object({
    cpu_ms: figure('CPU time of every process in the container'),
    memory_peak_bytes: figure('Peak memory (the kernel\'s own peak under runc; under gVisor the highest 100 ms reading)'),
    pids_peak: figure('Most processes at once (sampled)'),
    blkio_read_bytes: figure('Bytes read from block devices'),
    blkio_write_bytes: figure('Bytes written to block devices'),
    samples: z
      .array(z.object({ t_ms: z.number(), cpu_pct: z.number().nullable(), memory_bytes: z.number().nullable() }))
      .describe('Every 100 ms (thinned for long runs), at most ~120; a value is null when unreadable.'),
    final: z.boolean().describe('True when read at the program\'s exit; false when the last reading was periodic (killed) or none arrived.'),
  })
  .describe('What the run cost.');

/** A workspace's size after a run on it, and whether the run pushed it over quota. */
export const workspaceUsageReportObject = z
  .object({
    workspace_id: z.string().nullable().describe('null for the scratch /workspace of a run with files or collect but no workspace.'),
    bytes: z.number().int().describe('Bytes on disk (data and metadata), exact when disk quotas are enforced.'),
    files: z.number().int(),
    quota_bytes: z.number().int(),
    quota_files: z.number().int(),
    over_quota: z.boolean(),
  })
  .describe('For runs on a workspace (or a quota-bound scratch /workspace): its size after the run and whether the run pushed it over quota.');

/** A file a run produced and the caller asked for with `collect`. */
export const collectedFileObject = z.object({
  path: z.string(),
  size: z.number().int(),
  mime_type: z.string(),
  content: z.string().optional().describe('The content, embedded (utf8 text, else base64), when it fit under the collect cap.'),
  encoding: z.enum(['utf8', 'base64']).optional(),
  uri: z.string().optional().describe('For workspace runs: where the file can be read later (an MCP resource).'),
  skipped: z.string().optional().describe('Why a matching path was not returned.'),
});

/** What an egress profile's run reached through the egress proxy, and what it was refused. */
export const runNetworkObject = z
  .object({
    allowed: z.array(z.object({ host: z.string(), port: z.number().int().nullable(), requests: z.number().int().describe('HTTP requests, or CONNECT tunnels (one per HTTPS connection).') })),
    denied: z.array(z.object({ host: z.string(), port: z.number().int().nullable(), attempts: z.number().int() })).describe('Requests the proxy refused (403): the name or port is not on the profile\'s list, a method is not allowed, or the address is one the proxy never reaches.'),
  })
  .describe('For runs of an egress profile: hosts and ports reached through the egress proxy, and refused ones (so a failed install says why).');

/** The structured result of run_command and run_code (and the REST run result). */
export const runResultShape = {
  run_id: z.string().describe('Identifier of this run (also the capsule.run_id container label).'),
  status: runStatusEnum,
  exit_code: z.number().int().nullable().describe('Exit code of the process; null when it never exited by itself.'),
  signal: z.string().nullable().describe('Signal that ended the process, when one did.'),
  stdout: z.string().describe('Captured stdout (head and tail kept when over the cap).'),
  stderr: z.string().describe('Captured stderr (head and tail kept when over the cap).'),
  stdout_bytes: z.number().int().describe('Every byte written to stdout, kept or not.'),
  stderr_bytes: z.number().int().describe('Every byte written to stderr, kept or not.'),
  truncated: z.boolean().describe('True when output beyond the cap was dropped from the middle.'),
  duration_ms: z.number().int().describe('Wall time from program start to exit.'),
  profile: z.string().describe('Sandbox profile used.'),
  image: z.string().describe('Container image used.'),
  runtime: z.string().describe('OCI runtime the container ran under: runc (the host kernel), runsc (gVisor\'s user-space kernel), or another the engine offers.'),
  engine: z.string().optional().describe('The Docker engine the run ran on (its CAPSULE_ENGINES or Swarm name; "default" with one engine). Every run has it; absent only in cache replays stored before engines were named.'),
  error: z.string().optional().describe('Why the run failed or was killed (engine error, cancellation, shutdown), when it was.'),
  workspace: workspaceUsageReportObject.optional(),
  files: z.array(collectedFileObject).optional().describe('Files matched by collect.'),
  collect_error: z.string().optional().describe('Why collecting files or workspace usage after the run failed.'),
  stats: runStatsObject,
  network: runNetworkObject.optional(),
  cached: z.boolean().optional().describe('With cache: true, whether this result was replayed from the cache.'),
};
export const runResultObject = z.object(runResultShape);

/** A recorded run without its result (list_runs). */
export const runRecordShape = {
  run_id: z.string(),
  process_id: z.string().nullable(),
  kind: z.enum(['run', 'process']),
  owner: z.string(),
  profile: z.string(),
  summary: z.string().describe('The command (cut at 300 characters) or "<language> code (N bytes)".'),
  status: runStateEnum,
  exit_code: z.number().int().nullable(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().int().nullable(),
  error: z.string().nullable(),
  trace_id: z.string().nullable().describe('OpenTelemetry trace id of the call that started the run (its span is in the trace).'),
  task_id: z.string().nullable().describe('The MCP task the run belongs to, when its tool call was made as a task (tasks/get, tasks/result).'),
  engine: z.string().nullable().describe('The Docker engine the run ran on (null for records made before engines were recorded).'),
};
export const runRecordSummaryObject = z.object(runRecordShape);

/** A recorded run with its full result once finished (get_run, GET /v1/runs/:id). */
export const runRecordObject = z.object({ ...runRecordShape, result: runResultObject.nullable() });

/** The part of a run result the dev tools report next to their own findings. */
export const runSummaryObject = runResultObject.pick({ run_id: true, status: true, exit_code: true, duration_ms: true, stdout: true, stderr: true, truncated: true });

export const getRunOutput = runRecordObject;
export const listRunsOutput = z.object({ runs: z.array(runRecordSummaryObject) });
