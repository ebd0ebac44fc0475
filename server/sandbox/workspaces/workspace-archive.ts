import { createWriteStream } from 'node:fs';
import { posix } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidInputError } from '../../errors.js';
import { packTar, TarWriter, tarEntries } from '../container/tar.js';
import { SANDBOX_OWNER } from './workspace-files.js';
import { isInsideWorkspace, workspaceRelative } from './workspace-paths.js';

export interface FileEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mode: number;
  mtime: string;
}

export interface Usage {
  bytes: number;
  files: number;
}

/** Count entries and file bytes of a /workspace archive; stops counting past `stopAfterBytes`. */
export async function countUsage(archive: Readable, stopAfterBytes = Infinity): Promise<Usage> {
  let bytes = 0;
  let files = 0;
  for await (const { header } of tarEntries(archive)) {
    if (header.name === 'workspace' || header.name === 'workspace/') continue;
    files++;
    if (header.type === 'file' || header.type === 'contiguous-file') bytes += header.size ?? 0;
    if (bytes > stopAfterBytes) break;
  }
  return { bytes, files };
}

/** The entries of an archive of `resolved` (the folder `path` asked for), at most `limit`; direct children only unless `recursive`. */
export async function listEntries(archive: Readable, resolved: string, path: string, limit: number, recursive: boolean): Promise<{ entries: FileEntry[]; truncated: boolean }> {
  const entries: FileEntry[] = [];
  let truncated = false;
  for await (const { header } of tarEntries(archive)) {
    const inside = header.name.replace(/\/$/, '').split('/').slice(1).join('/');
    if (!inside) {
      if (header.type !== 'directory') throw new InvalidInputError(`"${path}" is not a directory; use read_file`);
      continue;
    }
    if (!recursive && inside.includes('/')) continue;
    if (entries.length >= limit) {
      truncated = true;
      break;
    }
    entries.push({
      path: posix.join(posix.relative('/workspace', resolved), inside),
      type: header.type === 'directory' ? 'directory' : header.type === 'symlink' ? 'symlink' : header.type === 'file' || header.type === 'contiguous-file' ? 'file' : 'other',
      size: header.size ?? 0,
      mode: (header.mode ?? 0) & 0o7777,
      mtime: (header.mtime ?? new Date(0)).toISOString(),
    });
  }
  return { entries, truncated };
}

/**
 * Validate an uploaded tar entry by entry (no absolute or ".." names, links only inside the workspace,
 * files, directories and links only) while re-packing it into `spool` with the sandbox user as owner.
 * `check(bytes, entries)` runs after every entry with the running totals and throws to refuse (quota).
 * On any refusal the spool is incomplete and the caller discards it: nothing reaches the workspace.
 */
export async function spoolArchive(source: Readable, spool: string, check: (bytes: number, entries: number) => void): Promise<{ bytes: number; count: number }> {
  const archive = new TarWriter();
  const written = pipeline(archive.readable, createWriteStream(spool));
  let bytes = 0;
  let count = 0;
  try {
    for await (const { header, stream } of tarEntries(source)) {
      const name = archiveEntryName(header.name);
      count++;
      if (header.type === 'symlink' || header.type === 'link') {
        const link = header.linkname ?? '';
        const target = posix.isAbsolute(link) ? link : posix.join('/workspace', posix.dirname(name), link);
        if (!isInsideWorkspace(target)) throw new InvalidInputError(`archive entry "${header.name}" links outside the workspace (${link})`);
        await archive.add({ name, type: header.type, linkname: link, ...SANDBOX_OWNER });
      } else if (header.type === 'directory') {
        await archive.add({ name, type: 'directory', mode: (header.mode ?? 0o755) & 0o777, ...SANDBOX_OWNER });
      } else if (header.type === 'file' || header.type === 'contiguous-file') {
        bytes += header.size ?? 0;
        check(bytes, count);
        await archive.add({ name, type: 'file', size: header.size ?? 0, mode: (header.mode ?? 0o644) & 0o777, ...SANDBOX_OWNER, stream });
      } else {
        throw new InvalidInputError(`archive entry "${header.name}" has unsupported type ${header.type}`);
      }
      check(bytes, count);
    }
    archive.finish();
  } catch (err) {
    archive.fail(err as Error);
    await written.catch(() => undefined);
    throw err;
  }
  await written;
  return { bytes, count };
}

/** A tar of one file whose content is `source` (`size` bytes), owned by the sandbox user. */
export function tarOfStream(name: string, size: number, mode: number, source: Readable): Readable {
  return packTar([{ type: 'file', name, size, mode, ...SANDBOX_OWNER, stream: source }]);
}

/** `source` passed through, destroyed with `tooBig()` once more than `cap` bytes went by. */
export function cappedStream(source: Readable, cap: number, tooBig: () => Error): PassThrough {
  let sent = 0;
  const out = new PassThrough();
  source.on('data', (chunk: Buffer) => {
    sent += chunk.length;
    if (sent > cap) source.destroy(tooBig());
  });
  source.on('error', (err) => out.destroy(err));
  source.pipe(out);
  out.once('close', () => source.destroy());
  return out;
}

/** Validate a tar entry name from an uploaded archive; returns the relative path or throws naming the entry. */
export function archiveEntryName(name: string): string {
  if (posix.isAbsolute(name)) throw new InvalidInputError(`archive entry "${name}" is an absolute path`);
  if (name.split('/').includes('..')) throw new InvalidInputError(`archive entry "${name}" contains ".."`);
  const relative = workspaceRelative(name, 'archive entry');
  if (!relative) throw new InvalidInputError(`archive entry "${name}" names the workspace root`);
  return relative;
}

