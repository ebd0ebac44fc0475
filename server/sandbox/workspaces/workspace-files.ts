import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { lookup as mimeLookup } from 'mime-types';
import { packTar } from '../container/tar.js';
import { InvalidInputError } from '../../errors.js';
import { workspaceRelative } from './workspace-paths.js';

/** Tar header owner of everything written into /workspace: the sandbox user, so runs can change it. */
export const SANDBOX_OWNER = { uid: 10001, gid: 10001 } as const;

/** One file to write into a workspace (write_files, and `files` of run calls). */
export interface FileWrite {
  path: string;
  content: string;
  encoding?: 'utf8' | 'base64';
  mode?: number;
}

export interface PreparedFile {
  relative: string;
  content: Buffer;
  mode: number;
}

/** Validate and decode files to write; errors name the path. */
export function prepareFiles(files: FileWrite[]): PreparedFile[] {
  if (files.length === 0) throw new InvalidInputError('files must not be empty');
  const seen = new Set<string>();
  return files.map((f) => {
    const relative = workspaceRelative(f.path);
    if (!relative) throw new InvalidInputError(`path "${f.path}" names the workspace root, not a file`);
    if (seen.has(relative)) throw new InvalidInputError(`path "${relative}" is given twice`);
    seen.add(relative);
    const mode = f.mode ?? 0o644;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) throw new InvalidInputError(`mode of "${relative}" must be from 0 to 0o777 (no setuid/setgid/sticky bits)`);
    if (f.encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(f.content.replace(/\s+/g, ''))) {
      throw new InvalidInputError(`content of "${relative}" is not valid base64`);
    }
    return { relative, content: Buffer.from(f.content, f.encoding === 'base64' ? 'base64' : 'utf8'), mode };
  });
}

/** A tar of prepared files with their parent folders (folders first, mode 0755). */
export function tarOfFiles(files: PreparedFile[]): Readable {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.relative.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return packTar([
    ...[...dirs].sort().map((d) => ({ type: 'directory' as const, name: d, mode: 0o755, ...SANDBOX_OWNER })),
    ...files.map((f) => ({ type: 'file' as const, name: f.relative, mode: f.mode, ...SANDBOX_OWNER, content: f.content })),
  ]);
}

/** Source files mime-db lacks or gets wrong for a code box (.ts there is MPEG transport stream). */
const SOURCE_TYPES: Record<string, string> = {
  '.py': 'text/x-python',
  '.ts': 'text/x-typescript',
  '.tsx': 'text/x-typescript',
  '.mts': 'text/x-typescript',
  '.sh': 'text/x-shellscript',
  '.rs': 'text/x-rust',
  '.go': 'text/x-go',
  '.toml': 'application/toml',
};

/** MIME type of a file name (application/octet-stream when unknown). */
export function mimeTypeOf(path: string): string {
  return SOURCE_TYPES[posix.extname(path).toLowerCase()] ?? (mimeLookup(path) || 'application/octet-stream');
}
