import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../server/config.js';

const run = promisify(execFile);

/** CAPSULE_VOLUME_ROOT as the tests' servers use it (tests run on the engine host, as root). */
export const VOLUME_ROOT = loadConfig({}).CAPSULE_VOLUME_ROOT;

/** Host path of a Capsule volume's subvolume. */
export function hostPath(instance: string, volume: string): string {
  return join(VOLUME_ROOT, instance, volume);
}

/**
 * What the host's kernel counts for a volume, read on the host with btrfs-progs (not through Capsule):
 * bytes of its level-1 qgroup after a filesystem commit.
 */
export async function hostQgroupBytes(instance: string, volume: string): Promise<number> {
  const path = hostPath(instance, volume);
  await run('btrfs', ['filesystem', 'sync', VOLUME_ROOT]);
  const id = (await run('btrfs', ['inspect-internal', 'rootid', path])).stdout.trim();
  const table = (await run('btrfs', ['qgroup', 'show', '--raw', '-r', VOLUME_ROOT])).stdout;
  const row = table.split('\n').map((l) => l.trim().split(/\s+/)).find((cols) => cols[0] === `1/${id}`);
  if (!row) throw new Error(`no qgroup 1/${id} for ${path}:\n${table}`);
  return Number(row[1]);
}

/** The limit the kernel enforces on a volume (its qgroup's max referenced). */
export async function hostQgroupLimit(instance: string, volume: string): Promise<number> {
  const id = (await run('btrfs', ['inspect-internal', 'rootid', hostPath(instance, volume)])).stdout.trim();
  const table = (await run('btrfs', ['qgroup', 'show', '--raw', '-r', VOLUME_ROOT])).stdout;
  const row = table.split('\n').map((l) => l.trim().split(/\s+/)).find((cols) => cols[0] === `1/${id}`);
  return Number(row?.[3]);
}

/** Subvolumes (directories with inode 256) left in an instance's folder on the host. */
export async function hostSubvolumes(instance: string): Promise<string[]> {
  const dir = join(VOLUME_ROOT, instance);
  const names = await readdir(dir).catch(() => [] as string[]);
  const found: string[] = [];
  // A subvolume removed between the listing and its stat is gone: not left.
  for (const name of names) if ((await stat(join(dir, name)).catch(() => null))?.ino === 256) found.push(name);
  return found;
}

/** Entries below a volume's root, counted on the host. */
export async function hostEntries(instance: string, volume: string): Promise<number> {
  return (await run('find', [hostPath(instance, volume), '-mindepth', '1', '-printf', '.'])).stdout.length;
}
