import { randomBytes } from 'node:crypto';
import type { Config } from '../../config.js';
import { InvalidInputError } from '../../errors.js';
import { type Language, LANGUAGES, languageCommand } from '../container/languages.js';
import { enforcePolicy } from '../profiles/profile-policy.js';
import type { Profile, ProfileRegistry } from '../profiles/profiles.js';
import { type FileWrite, type PreparedFile, prepareFiles } from '../workspaces/workspace-files.js';
import { workspaceRelative } from '../workspaces/workspace-paths.js';
import { checkEnv, checkStdin, checkText, checkTimeout, checkWorkdir, narrowLimits } from './run-checks.js';

/** Optional narrowing of a profile's limits; a value above the profile's is rejected. */
export interface LimitsInput {
  memory_mb?: number;
  cpus?: number;
  pids?: number;
}

/** Workspace options shared by run_command, run_code and start_process. */
export interface WorkspaceRunInput {
  /** Mount this workspace read-write at /workspace instead of an empty tmpfs. */
  workspace_id?: string;
  /** Files written to /workspace before the program starts. */
  files?: FileWrite[];
  /** Paths or globs (relative to /workspace) returned after the run. */
  collect?: string[];
  /** Opt in to the result cache (run_command/run_code only). */
  cache?: boolean;
}

/** Input of run_command (already shape-checked by the tool's zod schema). */
export interface CommandRunInput extends WorkspaceRunInput {
  command: string;
  profile?: string;
  limits?: LimitsInput;
  timeout_ms?: number;
  stdin?: string;
  env?: Record<string, string>;
  workdir?: string;
}

/** Input of run_code. */
export interface CodeRunInput extends WorkspaceRunInput {
  language: string;
  code: string;
  args?: string[];
  profile?: string;
  limits?: LimitsInput;
  timeout_ms?: number;
  stdin?: string;
  env?: Record<string, string>;
}

export interface JobFile {
  name: string;
  content: Buffer;
  mode: number;
}

/** The limits a run gets: its profile's, possibly narrowed by the caller. */
export interface EffectiveLimits {
  memoryBytes: number;
  cpus: number;
  pids: number;
}

/** A workspace a run mounts: its volume and, when quota'd, the driver options binding its subvolume. */
export interface RunWorkspace {
  id: string;
  volume: string;
  driverOptions?: Record<string, string>;
  /** Its home engine (runs on it go there); absent with one engine. */
  engine?: string;
}

/** Who asks and how the run lives: a call that waits for it, or a background process. */
export interface PrepareContext {
  owner?: string;
  mode?: 'run' | 'process';
  /** The resolved workspace, when the call names one. */
  workspace?: RunWorkspace;
}

/** A run that passed every check, ready for the runner. */
export interface PreparedRun {
  runId: string;
  kind: 'command' | 'code';
  mode: 'run' | 'process';
  /** Who asked for it (token name, or "local"); recorded as the capsule.owner label. */
  owner: string;
  profile: Profile;
  /** The OCI runtime it runs under (the profile's, else the engine's default), as every result reports it. */
  runtime: string;
  limits: EffectiveLimits;
  argv: string[];
  /** Code files, copied read-only into /capsule. */
  jobFiles: JobFile[];
  /** Files for /workspace (written before start). */
  workspaceFiles: PreparedFile[];
  /** Globs of files to return after the run. */
  collect: string[];
  workspace: RunWorkspace | null;
  /** Mount a writable /capsule-out for artifacts read after exit (profilers). */
  outputDir: boolean;
  stdin: Buffer | null;
  env: Record<string, string>;
  workdir: string;
  timeoutMs: number;
  /**
   * Set by the service for calls that return a capped result: the launcher forwards this many bytes
   * of each stream and then keeps only the tail in the container (the result is the same, the engine
   * carries far less). Unset for background processes, whose retained log and cursors need every byte.
   */
  launcherOutputCap?: number | null;
  /** The engine it was placed on (set at launch; every result and record names it). */
  engine?: string;
  /** What ran, safe to log: never the command or code itself. */
  summary: string;
  /** What ran, for its owner (list_processes, the run store): the command (cut at 300 chars) or the code summary. */
  display: string;
}

export type InputLimits = Pick<
  Config,
  'CAPSULE_MAX_COMMAND_BYTES' | 'CAPSULE_MAX_CODE_BYTES' | 'CAPSULE_MAX_STDIN_BYTES' | 'CAPSULE_MAX_ENV_VARS' | 'CAPSULE_MAX_ENV_BYTES' | 'CAPSULE_MAX_ARGS'
>;

const MAX_COLLECT_PATTERNS = 32;

function workspaceParts(input: WorkspaceRunInput, ctx: PrepareContext) {
  const collect = input.collect ?? [];
  if (collect.length > MAX_COLLECT_PATTERNS) throw new InvalidInputError(`collect has ${collect.length} patterns; the limit is ${MAX_COLLECT_PATTERNS}`);
  return {
    workspaceFiles: input.files?.length ? prepareFiles(input.files) : [],
    collect: collect.map((c) => workspaceRelative(c, 'collect pattern') || '**'),
    workspace: ctx.workspace ?? null,
    outputDir: false,
  };
}

/** Input of profile_code. */
export interface ProfileRunInput {
  language: string;
  code: string;
  args?: string[];
  profile?: string;
  timeout_ms?: number;
  workspace_id?: string;
}

/** The profiler wrapping of a language: extra files to copy in, and the argv around the program. */
export interface ProfilerPlan {
  files: JobFile[];
  argv: (programArgv: string[]) => string[];
}

/** Wrap a prepared run in a tool (profiler, analyzer, test runner): its files, its argv, and a writable /capsule-out. */
export function applyToolPlan(job: PreparedRun, plan: ProfilerPlan, label: string): PreparedRun {
  return { ...job, argv: plan.argv(job.argv), jobFiles: [...job.jobFiles, ...plan.files], outputDir: true, summary: `${label}: ${job.summary}`, display: `${label}: ${job.display}` };
}

/** A new run id: "run_" and 16 hex digits. */
export function newRunId(): string {
  return `run_${randomBytes(8).toString('hex')}`;
}

/** Validate a run_command call against the limits and its profile. */
export function prepareCommandRun(input: CommandRunInput, profiles: ProfileRegistry, limits: InputLimits, ctx: PrepareContext = {}): PreparedRun {
  const { owner = 'local', mode = 'run' } = ctx;
  const profile = profiles.usable(input.profile);
  const command = checkText('command', input.command, limits.CAPSULE_MAX_COMMAND_BYTES, false);
  enforcePolicy(profile.policy, profile.name, 'command', input.command);
  return {
    runId: newRunId(),
    kind: 'command',
    mode,
    owner,
    profile,
    runtime: profiles.engineRuntimes.effective(profile),
    limits: narrowLimits(input.limits, profile),
    argv: ['/bin/sh', '-c', input.command],
    jobFiles: [],
    ...workspaceParts(input, ctx),
    stdin: checkStdin(input.stdin, limits),
    env: checkEnv(input.env, limits, profile),
    workdir: checkWorkdir(input.workdir),
    timeoutMs: checkTimeout(input.timeout_ms, profile, mode),
    summary: `command (${command.length} bytes)`,
    display: input.command.length > 300 ? `${input.command.slice(0, 297)}...` : input.command,
  };
}

/** Validate a run_code call; the code becomes a file, never part of a shell string. */
export function prepareCodeRun(input: CodeRunInput, profiles: ProfileRegistry, limits: InputLimits, ctx: PrepareContext = {}): PreparedRun {
  const { owner = 'local', mode = 'run' } = ctx;
  if (!(LANGUAGES as readonly string[]).includes(input.language)) {
    throw new InvalidInputError(`unknown language "${input.language}"; use one of ${LANGUAGES.join(', ')}`);
  }
  const language = input.language as Language;
  const profile = profiles.usable(input.profile);
  const code = checkText('code', input.code, limits.CAPSULE_MAX_CODE_BYTES, false);
  enforcePolicy(profile.policy, profile.name, 'code', input.code);
  const args = input.args ?? [];
  if (args.length > limits.CAPSULE_MAX_ARGS) {
    throw new InvalidInputError(`args has ${args.length} items; the limit is ${limits.CAPSULE_MAX_ARGS}`);
  }
  args.forEach((a, i) => checkText(`args[${i}]`, a, limits.CAPSULE_MAX_COMMAND_BYTES, true));
  const { fileName, argv } = languageCommand(language, args);
  return {
    runId: newRunId(),
    kind: 'code',
    mode,
    owner,
    profile,
    runtime: profiles.engineRuntimes.effective(profile),
    limits: narrowLimits(input.limits, profile),
    argv,
    jobFiles: [{ name: fileName, content: code, mode: 0o444 }],
    ...workspaceParts(input, ctx),
    stdin: checkStdin(input.stdin, limits),
    env: checkEnv(input.env, limits, profile),
    workdir: '/workspace',
    timeoutMs: checkTimeout(input.timeout_ms, profile, mode),
    summary: `${language} code (${code.length} bytes, ${args.length} args)`,
    display: `${language} code (${code.length} bytes)`,
  };
}
