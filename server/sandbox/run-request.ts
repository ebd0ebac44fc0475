import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Config } from '../config.js';
import { InvalidInputError } from '../errors.js';
import { type Language, LANGUAGES, languageCommand } from './languages.js';
import { ENV_NAME, type Profile, type ProfileRegistry } from './profiles.js';

/** Input of run_command (already shape-checked by the tool's zod schema). */
export interface CommandRunInput {
  command: string;
  profile?: string;
  timeout_ms?: number;
  stdin?: string;
  env?: Record<string, string>;
  workdir?: string;
}

/** Input of run_code. */
export interface CodeRunInput {
  language: string;
  code: string;
  args?: string[];
  profile?: string;
  timeout_ms?: number;
  stdin?: string;
  env?: Record<string, string>;
}

export interface JobFile {
  name: string;
  content: Buffer;
  mode: number;
}

/** A run that passed every check, ready for the runner. */
export interface PreparedRun {
  runId: string;
  kind: 'command' | 'code';
  profile: Profile;
  argv: string[];
  files: JobFile[];
  stdin: Buffer | null;
  env: Record<string, string>;
  workdir: string;
  timeoutMs: number;
  /** What ran, safe to log: never the command or code itself. */
  summary: string;
}

export type InputLimits = Pick<
  Config,
  'CAPSULE_MAX_COMMAND_BYTES' | 'CAPSULE_MAX_CODE_BYTES' | 'CAPSULE_MAX_STDIN_BYTES' | 'CAPSULE_MAX_ENV_VARS' | 'CAPSULE_MAX_ENV_BYTES' | 'CAPSULE_MAX_ARGS'
>;

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

function checkEnv(env: Record<string, string> | undefined, limits: InputLimits): Record<string, string> {
  if (!env) return {};
  const entries = Object.entries(env);
  if (entries.length > limits.CAPSULE_MAX_ENV_VARS) {
    throw new InvalidInputError(`env has ${entries.length} variables; the limit is ${limits.CAPSULE_MAX_ENV_VARS}`);
  }
  let bytes = 0;
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name)) throw new InvalidInputError(`env name "${name}" must match [A-Za-z_][A-Za-z0-9_]*`);
    if (value.includes('\0')) throw new InvalidInputError(`env ${name} must not contain NUL bytes`);
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 2;
  }
  if (bytes > limits.CAPSULE_MAX_ENV_BYTES) {
    throw new InvalidInputError(`env is ${bytes} bytes; the limit is ${limits.CAPSULE_MAX_ENV_BYTES} bytes`);
  }
  return { ...env };
}

function checkTimeout(timeoutMs: number | undefined, profile: Profile): number {
  if (timeoutMs === undefined) return profile.timeoutDefaultMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > profile.timeoutMaxMs) {
    throw new InvalidInputError(
      `timeout_ms must be an integer from 1 to ${profile.timeoutMaxMs} (the maximum of profile "${profile.name}"); got ${timeoutMs}`,
    );
  }
  return timeoutMs;
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
export function prepareCommandRun(input: CommandRunInput, profiles: ProfileRegistry, limits: InputLimits): PreparedRun {
  const profile = profiles.get(input.profile);
  const command = checkText('command', input.command, limits.CAPSULE_MAX_COMMAND_BYTES, false);
  return {
    runId: newRunId(),
    kind: 'command',
    profile,
    argv: ['/bin/sh', '-c', input.command],
    files: [],
    stdin: checkStdin(input.stdin, limits),
    env: checkEnv(input.env, limits),
    workdir: checkWorkdir(input.workdir),
    timeoutMs: checkTimeout(input.timeout_ms, profile),
    summary: `command (${command.length} bytes)`,
  };
}

/** Validate a run_code call; the code becomes a file, never part of a shell string. */
export function prepareCodeRun(input: CodeRunInput, profiles: ProfileRegistry, limits: InputLimits): PreparedRun {
  if (!(LANGUAGES as readonly string[]).includes(input.language)) {
    throw new InvalidInputError(`unknown language "${input.language}"; use one of ${LANGUAGES.join(', ')}`);
  }
  const language = input.language as Language;
  const profile = profiles.get(input.profile);
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
    profile,
    argv,
    files: [{ name: fileName, content: code, mode: 0o444 }],
    stdin: checkStdin(input.stdin, limits),
    env: checkEnv(input.env, limits),
    workdir: '/workspace',
    timeoutMs: checkTimeout(input.timeout_ms, profile),
    summary: `${language} code (${code.length} bytes, ${args.length} args)`,
  };
}
