import { z } from 'zod';
import { LANGUAGES } from '../sandbox/languages.js';

// Edge schemas shared by the MCP tools, the REST API and the OpenAPI document: one definition each.

/** Optional narrowing of the profile's limits (never loosening). */
export const limitsInput = z
  .object({
    memory_mb: z.number().int().positive().optional().describe('Lower memory limit in MiB (at most the profile\'s).'),
    cpus: z.number().positive().optional().describe('Lower CPU limit (at most the profile\'s).'),
    pids: z.number().int().positive().optional().describe('Lower process limit (at most the profile\'s).'),
  })
  .strict()
  .optional()
  .describe('Narrow the profile\'s limits for this call; values above the profile are rejected.');

/** One file to write: path relative to /workspace, text or base64 content, optional mode. */
export const fileWriteObject = z
  .object({
    path: z.string().describe('Path relative to /workspace (e.g. "src/app.py").'),
    content: z.string().describe('The content: text, or base64 with encoding "base64".'),
    encoding: z.enum(['utf8', 'base64']).optional().describe('Default utf8.'),
    mode: z.number().int().min(0).max(0o777).optional().describe('Permission bits, e.g. 493 (0o755) for a script; default 420 (0o644).'),
  })
  .strict();

const cacheInput = z
  .boolean()
  .optional()
  .describe('Replay a stored result when you already ran exactly this (same image, profile, command or code, files, env, stdin); not with workspace_id or networked profiles.');

/** Workspace options of run_command, run_code and start_process. */
export const workspaceRunInput = {
  workspace_id: z.string().optional().describe('Mount this workspace (from create_workspace) read-write at /workspace so files persist between runs.'),
  files: z.array(fileWriteObject).max(1000).optional().describe('Files written to /workspace before the program starts (with or without a workspace).'),
  collect: z.array(z.string()).max(32).optional().describe('Paths or globs under /workspace (e.g. "out/*.png") returned after the run: embedded, or as workspace links with workspace_id.'),
};

/** What a run cost, read from its cgroup by the in-container launcher. */
export const runStatsObject = z
  .object({
    cpu_ms: z.number().int().describe('CPU time of every process in the container.'),
    memory_peak_bytes: z.number().int(),
    pids_peak: z.number().int(),
    blkio_read_bytes: z.number().int(),
    blkio_write_bytes: z.number().int(),
    samples: z.array(z.object({ t_ms: z.number(), cpu_pct: z.number(), memory_bytes: z.number() })).describe('Every 100 ms (thinned for long runs), at most ~120.'),
    final: z.boolean().describe('True when read at the program\'s exit; false when the last reading was periodic (killed).'),
  })
  .describe('What the run cost.');

export const runCommandInput = {
  command: z.string().describe('Shell command, run as `/bin/sh -c <command>`.'),
  profile: z.string().optional().describe('Sandbox profile (see list_profiles); default "default".'),
  limits: limitsInput,
  timeout_ms: z.number().int().positive().optional().describe('Wall-time limit in ms; default and maximum come from the profile.'),
  stdin: z.string().optional().describe('Text written to the process stdin, then closed.'),
  env: z.record(z.string(), z.string()).optional().describe('Extra environment variables.'),
  workdir: z.string().optional().describe('Working directory: an absolute path inside /workspace or /tmp (default /workspace).'),
  ...workspaceRunInput,
  cache: cacheInput,
};

export const runCodeInput = {
  language: z.enum(LANGUAGES).describe('python (3.11), javascript (Node 22), typescript (Node 22 type stripping) or bash.'),
  code: z.string().describe('Source code; copied into the container as a file, never through a shell string.'),
  args: z.array(z.string()).optional().describe('Command-line arguments passed to the program.'),
  profile: z.string().optional().describe('Sandbox profile (see list_profiles); default "default".'),
  limits: limitsInput,
  timeout_ms: z.number().int().positive().optional().describe('Wall-time limit in ms; default and maximum come from the profile.'),
  stdin: z.string().optional().describe('Text written to the program stdin, then closed.'),
  env: z.record(z.string(), z.string()).optional().describe('Extra environment variables.'),
  ...workspaceRunInput,
  cache: cacheInput,
};

/** The structured result shared by run_command and run_code (their outputSchema). */
export const runResultShape = {
  run_id: z.string().describe('Identifier of this run (also the capsule.run_id container label).'),
  status: z.enum(['exited', 'timed_out', 'oom_killed', 'killed', 'failed']).describe('How the run ended.'),
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
  error: z.string().optional().describe('Why the run failed or was killed, when it was.'),
  workspace: z
    .object({
      workspace_id: z.string().nullable().describe('null for the scratch /workspace of a run with files or collect but no workspace.'),
      bytes: z.number().int().describe('Bytes on disk (data and metadata), exact when disk quotas are enforced.'),
      files: z.number().int(),
      quota_bytes: z.number().int(),
      quota_files: z.number().int(),
      over_quota: z.boolean(),
    })
    .optional()
    .describe('For runs on a workspace (or a quota-bound scratch /workspace): its size after the run and whether the run pushed it over quota.'),
  files: z
    .array(
      z.object({
        path: z.string(),
        size: z.number().int(),
        mime_type: z.string(),
        content: z.string().optional(),
        encoding: z.enum(['utf8', 'base64']).optional(),
        uri: z.string().optional(),
        skipped: z.string().optional(),
      }),
    )
    .optional()
    .describe('Files matched by collect.'),
  collect_error: z.string().optional().describe('Why collecting files or workspace usage after the run failed.'),
  stats: runStatsObject,
  cached: z.boolean().optional().describe('With cache: true, whether this result was replayed from the cache.'),
};

export const runResultObject = z.object(runResultShape);

/** POST /v1/runs bodies: a run_command input or a run_code input. */
export const restRunBody = z.union([z.object(runCommandInput).strict(), z.object(runCodeInput).strict()]);

/** A recorded run (get_run, list_runs, GET /v1/runs/:id). */
export const runRecordShape = {
  run_id: z.string(),
  process_id: z.string().nullable(),
  kind: z.enum(['run', 'process']),
  owner: z.string(),
  profile: z.string(),
  summary: z.string().describe('The command (cut at 300 characters) or "<language> code (N bytes)".'),
  status: z.enum(['running', 'exited', 'timed_out', 'oom_killed', 'killed', 'failed']),
  exit_code: z.number().int().nullable(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  duration_ms: z.number().int().nullable(),
  error: z.string().nullable(),
};

export const runRecordObject = z.object({ ...runRecordShape, result: runResultObject.nullable() });

/** The body of every REST error. */
export const errorBody = z.object({
  error: z.object({ code: z.string().describe('Stable error code, e.g. invalid_input, not_found, busy.'), message: z.string() }).catchall(z.unknown()),
});
