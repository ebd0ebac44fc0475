import type { Readable } from 'node:stream';
import { RuntimeFailureError } from '../../errors.js';
import type { CallOptions, PathStat } from '../container-runtime.js';
import type { DockerClient } from './docker-client.js';
import { engineStatus } from './docker-errors.js';

/** dockerode's HEAD /archive call, missing from its type definitions. */
interface DockerodeInfoArchive {
  infoArchive(options: { path: string; abortSignal: AbortSignal }): Promise<{ headers?: Record<string, string>; resume?: () => void }>;
}

/** Extract `tar` at `path`; ownership comes from the tar headers. */
export async function putArchive(client: DockerClient, id: string, path: string, tar: Readable, options?: CallOptions): Promise<void> {
  // No copyUIDGID: it would resolve the container user on the *host's* passwd database, which does
  // not know uid 10001.
  await client.call('putArchive', options, (abortSignal) => client.docker.getContainer(id).putArchive(tar, { path, abortSignal }));
}

/** A tar of `path`; the request timeout covers only the opening of the stream. */
export function getArchive(client: DockerClient, id: string, path: string, options?: CallOptions): Promise<Readable> {
  return client.openStream('getArchive', options, async (abortSignal) => (await client.docker.getContainer(id).getArchive({ path, abortSignal })) as unknown as Readable);
}

/** Go os.FileMode → PathStat's type: ModeDir = 1<<31, ModeSymlink = 1<<27, other special bits below. */
function fileType(mode: number): PathStat['type'] {
  const symlink = Math.floor(mode / 2 ** 27) % 2 === 1;
  if (mode >= 2 ** 31) return 'directory';
  if (symlink) return 'symlink';
  return (mode & 0x0ff00000) !== 0 ? 'other' : 'file';
}

/** The engine's path stat (HEAD /archive), null on 404. */
export async function statPath(client: DockerClient, id: string, path: string, options?: CallOptions): Promise<PathStat | null> {
  try {
    const container = client.docker.getContainer(id) as unknown as DockerodeInfoArchive;
    const info = await client.call('statPath', options, (abortSignal) => container.infoArchive({ path, abortSignal }));
    info.resume?.();
    const header = info.headers?.['x-docker-container-path-stat'];
    if (!header) throw new RuntimeFailureError('engine returned no path stat');
    const stat = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { name: string; size: number; mode: number; mtime: string; linkTarget: string };
    return { name: stat.name, size: stat.size, mode: stat.mode & 0o777, mtime: stat.mtime, type: fileType(stat.mode), linkTarget: stat.linkTarget };
  } catch (err) {
    if (engineStatus(err) === 404) return null;
    throw err;
  }
}
