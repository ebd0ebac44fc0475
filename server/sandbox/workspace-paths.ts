import { posix } from 'node:path';
import { InvalidInputError } from '../errors.js';

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

/** Validate a tar entry name from an uploaded archive; returns the relative path or throws naming the entry. */
export function archiveEntryPath(name: string): string {
  if (posix.isAbsolute(name)) throw new InvalidInputError(`archive entry "${name}" is an absolute path`);
  if (name.split('/').includes('..')) throw new InvalidInputError(`archive entry "${name}" contains ".."`);
  return workspaceRelative(name, 'archive entry');
}
