import { z } from 'zod';
import { LANGUAGES } from '../sandbox/container/languages.js';

// Edge schemas shared by the MCP tools, the REST API and the OpenAPI document: one definition each.
// Output schemas live in run-outputs.ts; re-exported here for importers from before the split.
export { runRecordObject, runRecordShape, runResultObject, runResultShape, runStatsObject } from './run-outputs.js';

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

/** POST /v1/runs bodies: a run_command input or a run_code input. */
export const restRunBody = z.union([z.object(runCommandInput).strict(), z.object(runCodeInput).strict()]);

/** The body of every REST error. */
export const errorBody = z.object({
  error: z.object({ code: z.string().describe('Stable error code, e.g. invalid_input, not_found, busy.'), message: z.string() }).catchall(z.unknown()),
});
