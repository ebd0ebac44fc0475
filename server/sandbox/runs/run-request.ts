import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Config } from '../../config.js';
import { InvalidInputError } from '../../errors.js';
import { type Language, LANGUAGES, languageCommand } from '../container/languages.js';
import { ENV_NAME, type Profile, type ProfileRegistry } from '../profiles/profiles.js';
import { type FileWrite, type PreparedFile, prepareFiles } from '../workspaces/workspace-files.js';
import { workspaceRelative } from '../workspaces/workspace-paths.js';

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

function checkText(field: string, value: string, max: number, allowEmpty: boolean): Buffer {
  if (!allowEmpty && value.trim().length === 0) throw new InvalidInputError(`${field} must not be empty`);
  if (value.includes('\0')) throw new InvalidInputError(`${field} must not contain NUL bytes`);
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > max) throw new InvalidInputError(`${field} is ${bytes.length} bytes; the limit is ${max} bytes`);
  return bytes;
}

function allowedByList(name: string, list: string[]): boolean {
  return list.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry));
}

function checkEnv(env: Record<string, string> | undefined, limits: InputLimits, profile: Profile): Record<string, string> {
  if (!env) return {};
  const entries = Object.entries(env);
  if (entries.length > limits.CAPSULE_MAX_ENV_VARS) {
    throw new InvalidInputError(`env has ${entries.length} variables; the limit is ${limits.CAPSULE_MAX_ENV_VARS}`);
  }
  let bytes = 0;
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name)) throw new InvalidInputError(`env name "${name}" must match [A-Za-z_][A-Za-z0-9_]*`);
    if (profile.envAllowlist && !allowedByList(name, profile.envAllowlist)) {
      throw new InvalidInputError(`env ${name} is not allowed by profile "${profile.name}" (allowed: ${profile.envAllowlist.join(', ') || 'none'})`);
    }
    if (value.includes('\0')) throw new InvalidInputError(`env ${name} must not contain NUL bytes`);
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 2;
  }
  if (bytes > limits.CAPSULE_MAX_ENV_BYTES) {
    throw new InvalidInputError(`env is ${bytes} bytes; the limit is ${limits.CAPSULE_MAX_ENV_BYTES} bytes`);
  }
  return { ...env };
}

function checkTimeout(timeoutMs: number | undefined, profile: Profile, mode: 'run' | 'process'): number {
  const [def, max] = mode === 'process' ? [profile.processTimeoutDefaultMs, profile.processTimeoutMaxMs] : [profile.timeoutDefaultMs, profile.timeoutMaxMs];
  if (timeoutMs === undefined) return def;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > max) {
    throw new InvalidInputError(
      `timeout_ms must be an integer from 1 to ${max} (the ${mode === 'process' ? 'process ' : ''}maximum of profile "${profile.name}"); got ${timeoutMs}`,
    );
  }
  return timeoutMs;
}

/** Apply a caller's narrowing; anything that would loosen the profile is rejected, naming the limit. */
export function narrowLimits(requested: LimitsInput | undefined, profile: Profile): EffectiveLimits {
  const limits: EffectiveLimits = { memoryBytes: profile.memoryBytes, cpus: profile.cpus, pids: profile.pidsLimit };
  if (!requested) return limits;
  const loosen = (what: string, asked: number, max: number, unit = '') =>
    new InvalidInputError(
      `limits.${what} ${asked}${unit} exceeds profile "${profile.name}" (${max}${unit}); a call may only lower a profile's limits — pick a larger profile instead (see list_profiles)`,
    );
  if (requested.memory_mb !== undefined) {
    const bytes = requested.memory_mb * 1024 * 1024;
    if (!Number.isInteger(requested.memory_mb) || requested.memory_mb < 6) throw new InvalidInputError('limits.memory_mb must be an integer of at least 6');
    if (bytes > profile.memoryBytes) throw loosen('memory_mb', requested.memory_mb, profile.memoryBytes / 1024 / 1024, ' MiB');
    limits.memoryBytes = bytes;
  }
  if (requested.cpus !== undefined) {
    if (!(requested.cpus >= 0.01)) throw new InvalidInputError('limits.cpus must be at least 0.01');
    if (requested.cpus > profile.cpus) throw loosen('cpus', requested.cpus, profile.cpus);
    limits.cpus = requested.cpus;
  }
  if (requested.pids !== undefined) {
    if (!Number.isInteger(requested.pids) || requested.pids < 8) throw new InvalidInputError('limits.pids must be an integer of at least 8');
    if (requested.pids > profile.pidsLimit) throw loosen('pids', requested.pids, profile.pidsLimit);
    limits.pids = requested.pids;
  }
  return limits;
}

function checkWorkdir(workdir: string | undefined): string {
  if (workdir === undefined) return '/workspace';
  if (workdir.includes('\0')) throw new InvalidInputError('workdir must not contain NUL bytes');
  if (!posix.isAbsolute(workdir)) throw new InvalidInputError(`workdir "${workdir}" must be an absolute path`);
  const normal = posix.normalize(workdir).replace(/\/+$/, '') || '/';
  const inside = ['/workspace', '/tmp'].some((root) => normal === root || normal.startsWith(`${root}/`));
  if (!inside) throw new InvalidInputError(`workdir "${workdir}" must be inside /workspace or /tmp`);
  return normal;
}

function checkStdin(stdin: string | undefined, limits: InputLimits): Buffer | null {
  if (stdin === undefined) return null;
  return checkText('stdin', stdin, limits.CAPSULE_MAX_STDIN_BYTES, true);
}

/** Validate a run_command call against the limits and its profile. */
export function prepareCommandRun(input: CommandRunInput, profiles: ProfileRegistry, limits: InputLimits, ctx: PrepareContext = {}): PreparedRun {
  const { owner = 'local', mode = 'run' } = ctx;
  const profile = profiles.usable(input.profile);
  const command = checkText('command', input.command, limits.CAPSULE_MAX_COMMAND_BYTES, false);
  return {
    runId: newRunId(),
    kind: 'command',
    mode,
    owner,
    profile,
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
