import { capsuleUri } from '../../schemas/uris.js';
import picomatch from 'picomatch';
import type { z } from 'zod';
import type { collectedFileObject } from '../../schemas/run-outputs.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import { readRange, tarEntries } from '../container/tar.js';
import { mimeTypeOf } from '../workspaces/workspace-files.js';

/** A file a run produced and the caller asked for with `collect` (the result schema's `files`). */
export type CollectedFile = z.infer<typeof collectedFileObject>;

const MAX_MATCHES = 1000;

function asText(data: Buffer): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return null;
  }
}

/**
 * Read the files under /workspace matching `patterns` from a stopped run container, in one streaming
 * pass over the engine's archive. Embeds contents up to `maxBytes` in all; for a workspace run, files
 * are returned as links to the workspace (they persist there) instead of being embedded.
 */
export async function collectFiles(
  runtime: ContainerRuntime,
  containerId: string,
  patterns: string[],
  maxBytes: number,
  workspaceId: string | null,
): Promise<CollectedFile[]> {
  const isMatch = picomatch(patterns, { dot: true });
  const found: CollectedFile[] = [];
  let embedded = 0;
  for await (const { header, stream } of tarEntries(await runtime.getArchive(containerId, '/workspace'))) {
    const path = header.name.replace(/^workspace\/?/, '').replace(/\/$/, '');
    if (!path || header.type === 'directory' || !isMatch(path)) continue;
    if (found.length >= MAX_MATCHES) break;
    const size = header.size ?? 0;
    const base = { path, size, mime_type: mimeTypeOf(path) };
    if (header.type !== 'file' && header.type !== 'contiguous-file') {
      found.push({ ...base, skipped: `not a regular file (${header.type})` });
    } else if (workspaceId) {
      found.push({ ...base, uri: capsuleUri.workspaceFile(workspaceId, path) });
    } else if (embedded + size > maxBytes) {
      found.push({ ...base, skipped: `over the collect cap of ${maxBytes} bytes (CAPSULE_COLLECT_MAX_BYTES); use a workspace to keep large files` });
    } else {
      const data = await readRange(stream, 0, size);
      embedded += data.length;
      const text = asText(data);
      found.push(text !== null ? { ...base, content: text, encoding: 'utf8' } : { ...base, content: data.toString('base64'), encoding: 'base64' });
    }
  }
  return found;
}
