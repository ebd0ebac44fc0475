import { posix } from 'node:path';
import { InvalidInputError } from '../../errors.js';
import { ENV_NAME, type Profile } from '../profiles/profiles.js';
import type { EffectiveLimits, InputLimits, LimitsInput } from './run-request.js';

// The checks every run call passes before a container exists; each error names the field and its limit.

export function checkText(field: string, value: string, max: number, allowEmpty: boolean): Buffer {
  if (!allowEmpty && value.trim().length === 0) throw new InvalidInputError(`${field} must not be empty`);
  if (value.includes('\0')) throw new InvalidInputError(`${field} must not contain NUL bytes`);
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > max) throw new InvalidInputError(`${field} is ${bytes.length} bytes; the limit is ${max} bytes`);
  return bytes;
}

function allowedByList(name: string, list: string[]): boolean {
  return list.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry));
}

export function checkEnv(env: Record<string, string> | undefined, limits: InputLimits, profile: Profile): Record<string, string> {
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

export function checkTimeout(timeoutMs: number | undefined, profile: Profile, mode: 'run' | 'process'): number {
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

export function checkWorkdir(workdir: string | undefined): string {
  if (workdir === undefined) return '/workspace';
  if (workdir.includes('\0')) throw new InvalidInputError('workdir must not contain NUL bytes');
  if (!posix.isAbsolute(workdir)) throw new InvalidInputError(`workdir "${workdir}" must be an absolute path`);
  const normal = posix.normalize(workdir).replace(/\/+$/, '') || '/';
  const inside = ['/workspace', '/tmp'].some((root) => normal === root || normal.startsWith(`${root}/`));
  if (!inside) throw new InvalidInputError(`workdir "${workdir}" must be inside /workspace or /tmp`);
  return normal;
}

export function checkStdin(stdin: string | undefined, limits: InputLimits): Buffer | null {
  if (stdin === undefined) return null;
  return checkText('stdin', stdin, limits.CAPSULE_MAX_STDIN_BYTES, true);
}
