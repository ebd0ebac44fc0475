import { LABEL } from '../container/labels.js';
import type { ContainerRuntime, VolumeSummary } from '../../runtime/container-runtime.js';
import { type BoundedVolumes, QUOTA_LABEL } from '../volumes/bounded-volumes.js';
import type { RunWorkspace } from '../runs/run-request.js';
import { countUsage, type Usage } from './workspace-archive.js';
import { type HelperContext, WorkspaceHelper } from './workspace-helper.js';

/** True for a workspace volume that is a quota'd subvolume (made while disk quotas were enforced). */
export function isBounded(v: VolumeSummary): boolean {
  return v.labels[QUOTA_LABEL] === 'btrfs';
}

/** What a run or a helper mounts for this workspace volume. */
export function runWorkspace(v: VolumeSummary): RunWorkspace {
  return { id: v.labels[LABEL.workspace] ?? '', volume: v.name, ...(isBounded(v) ? { driverOptions: v.options } : {}) };
}

/**
 * Workspace usage. A quota'd workspace is read from its qgroup: exact bytes on disk (data and
 * metadata, what the limit counts) and every entry, in one helper for any number of workspaces. An
 * older, unbounded one is counted from a tar of its files through a mount, as before enforcement
 * (sizes of files, not disk use; `stopAfterBytes` keeps a hostile workspace from being streamed whole).
 */
export class WorkspaceUsage {
  constructor(private readonly deps: { runtime: ContainerRuntime; helpers: HelperContext; volumes?: BoundedVolumes }) {}

  /** Usage of each volume, by volume name. */
  async of(volumes: VolumeSummary[]): Promise<Map<string, Usage>> {
    const bounded = volumes.filter(isBounded);
    const found = new Map<string, Usage>();
    if (bounded.length && this.deps.volumes) {
      const read = await this.deps.volumes.usage(bounded.map((v) => v.name));
      // A Docker volume whose subvolume is gone holds nothing.
      for (const v of bounded) found.set(v.name, read.get(v.name) ?? { bytes: 0, files: 0 });
    }
    await Promise.all(
      volumes
        .filter((v) => !found.has(v.name))
        .map(async (v) => {
          await using helper = await WorkspaceHelper.create(this.deps.helpers, runWorkspace(v));
          found.set(v.name, await this.countIn(helper.id));
        }),
    );
    return found;
  }

  /** Usage before a write; `helperId` is a helper that mounts the workspace (counted through it when unbounded). */
  async before(v: VolumeSummary, helperId: string): Promise<Usage> {
    if (isBounded(v)) return (await this.of([v])).get(v.name)!;
    return this.countIn(helperId);
  }

  /** Usage after a run, read from the stopped container for an unbounded workspace; `stopAfterBytes` as above. */
  async afterRun(v: VolumeSummary | undefined, containerId: string, stopAfterBytes: number): Promise<Usage> {
    if (v && isBounded(v)) return (await this.of([v])).get(v.name)!;
    return this.countIn(containerId, stopAfterBytes);
  }

  private async countIn(containerId: string, stopAfterBytes = Infinity): Promise<Usage> {
    return await countUsage(await this.deps.runtime.getArchive(containerId, '/workspace'), stopAfterBytes);
  }
}
