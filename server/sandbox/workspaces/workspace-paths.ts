import { posix } from 'node:path';
import { InvalidInputError, NotFoundError } from '../../errors.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';

export const WORKSPACE_ROOT = '/workspace';

/**
 * A client-supplied path as a clean path relative to /workspace ('' is the root). Accepts "a/b",
 * "./a/b" and "/workspace/a/b"; rejects NUL bytes, newlines, other absolute paths and anything that
 * climbs out with "..". The error names the path.
 */
export function workspaceRelative(input: string, field = 'path'): string {
  if (input.includes('\0')) throw new InvalidInputError(`${field} ${JSON.stringify(input)} contains a NUL byte`);
  if (/[\n\r]/.test(input)) throw new InvalidInputError(`${field} ${JSON.stringify(input)} contains a newline`);
  let p = input.trim() === '' ? '.' : input;
  if (posix.isAbsolute(p)) {
    if (p !== WORKSPACE_ROOT && !p.startsWith(`${WORKSPACE_ROOT}/`)) {
      throw new InvalidInputError(`${field} "${input}" is outside /workspace`);
    }
    p = posix.relative(WORKSPACE_ROOT, p) || '.';
  }
  if (p.split('/').includes('..')) throw new InvalidInputError(`${field} "${input}" must not contain ".."`);
  const normal = posix.normalize(p);
  if (normal === '.' || normal === './') return '';
  return normal.replace(/^\.\//, '').replace(/\/+$/, '');
}

/** The absolute path inside the container of a relative workspace path. */
export function inWorkspace(relative: string): string {
  return relative ? `${WORKSPACE_ROOT}/${relative}` : WORKSPACE_ROOT;
}

/** True when an absolute container path is /workspace or below it. */
export function isInsideWorkspace(absolute: string): boolean {
  const normal = posix.normalize(absolute);
  return normal === WORKSPACE_ROOT || normal.startsWith(`${WORKSPACE_ROOT}/`);
}

const MAX_LINK_HOPS = 16;

/**
 * Resolve a relative path inside the workspace, component by component, following symlinks only
 * while they stay inside /workspace. `allowMissing` accepts a path whose tail does not exist yet.
 */
export async function resolveInWorkspace(runtime: Pick<ContainerRuntime, 'statPath'>, containerId: string, relative: string, allowMissing: boolean): Promise<string> {
  let current = '/workspace';
  const rest = relative ? relative.split('/') : [];
  let hops = 0;
  while (rest.length) {
    const next = posix.join(current, rest.shift()!);
    const stat = await runtime.statPath(containerId, next);
    if (!stat) {
      if (allowMissing) return posix.join(next, ...rest);
      throw new NotFoundError(`"${posix.relative('/workspace', next)}" not found in the workspace`);
    }
    if (stat.type === 'symlink') {
      if (++hops > MAX_LINK_HOPS) throw new InvalidInputError(`too many symlinks under "${relative}"`);
      if (!isInsideWorkspace(stat.linkTarget)) {
        throw new InvalidInputError(`"${posix.relative('/workspace', next)}" is a symlink that leads outside the workspace (${stat.linkTarget}); refusing to follow it`);
      }
      current = posix.normalize(stat.linkTarget);
      continue;
    }
    if (rest.length && stat.type !== 'directory') throw new InvalidInputError(`"${posix.relative('/workspace', next)}" is not a directory`);
    current = next;
  }
  return current;
}
