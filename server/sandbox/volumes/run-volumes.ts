import type { Logger } from 'pino';
import type { VolumeMount } from '../../runtime/container-runtime.js';
import { withSpan } from '../../telemetry/tracing.js';
import { type BoundedVolumes, QUOTA_LABEL } from './bounded-volumes.js';
import { OUTPUT_DIR } from '../container/container-spec.js';
import { type InstanceIdentity, scratchLabels } from '../container/labels.js';
import type { PreparedRun } from '../runs/run-request.js';
import type { WorkspaceUsageReport } from '../runs/run-result.js';

export interface RunVolumesContext {
  volumes: BoundedVolumes;
  instance: InstanceIdentity;
  log: Logger;
  /** Bound of /capsule-out (CAPSULE_ARTIFACT_MAX_BYTES). */
  outputMaxBytes: number;
  /** Files and folders a scratch /workspace may hold before it is reported over quota. */
  workspaceMaxFiles: number;
  /** Where removal goes so the result does not wait for it (shutdown waits for it). */
  deferRemoval?: (removal: Promise<void>) => void;
}

interface Scratch {
  name: string;
  target: string;
  quotaBytes: number;
  labels: Record<string, string>;
}

/**
 * The writable volumes of one cold run that would otherwise be anonymous (unbounded) Docker volumes:
 * /workspace of a run with `files` or `collect` but no workspace (bounded by the profile's
 * tmpfs.workspace size) and the profilers' /capsule-out (bounded by CAPSULE_ARTIFACT_MAX_BYTES). Made
 * before the container, removed after it on every path (disposal); labelled capsule.kind=scratch and
 * capsule.run_id, so the reaper removes what a crash left.
 */
export class RunVolumes implements AsyncDisposable {
  private removed = false;

  private constructor(
    private readonly ctx: RunVolumesContext,
    private readonly scratch: Scratch[],
  ) {}

  /** The scratch volumes `job` needs, or null when it needs none or disk quotas are not enforced (anonymous volumes then). */
  static async create(ctx: RunVolumesContext, job: PreparedRun): Promise<RunVolumes | null> {
    const scratch: Scratch[] = [];
    const base = `capsule-scratch-${job.runId.replace(/_/g, '-')}`;
    const add = (suffix: string, target: string, quotaBytes: number) =>
      scratch.push({ name: `${base}-${suffix}`, target, quotaBytes, labels: scratchLabels({ runId: job.runId, owner: job.owner, instance: ctx.instance, mount: target }) });
    if (!job.workspace && (job.workspaceFiles.length > 0 || job.collect.length > 0)) add('ws', '/workspace', job.profile.tmpfsWorkspaceBytes);
    if (job.outputDir) add('out', OUTPUT_DIR, ctx.outputMaxBytes);
    if (scratch.length === 0 || !(await ctx.volumes.enabled())) return null;
    await withSpan('volumes.create', { 'capsule.run_id': job.runId, 'capsule.volumes': scratch.length }, () =>
      ctx.volumes.create(scratch.map(({ name, labels, quotaBytes }) => ({ name, labels, quotaBytes }))),
    );
    return new RunVolumes(ctx, scratch);
  }

  /** The mount for `target`, or undefined when this run has no scratch volume there. */
  mount(target: string): VolumeMount | undefined {
    const s = this.scratch.find((x) => x.target === target);
    if (!s) return undefined;
    // Should the volume vanish before the container mounts it, the engine re-creates it: still bound to its subvolume.
    return { source: s.name, target, readOnly: false, labelsIfCreated: { ...s.labels, [QUOTA_LABEL]: 'btrfs' }, driverOptionsIfCreated: this.ctx.volumes.driverOptions(s.name) };
  }

  /** Exact usage of the scratch /workspace after the run, as a result's `workspace` (workspace_id null). */
  async workspaceReport(): Promise<WorkspaceUsageReport | undefined> {
    const s = this.scratch.find((x) => x.target === '/workspace');
    if (!s) return undefined;
    const usage = (await this.ctx.volumes.usage([s.name])).get(s.name) ?? { bytes: 0, files: 0 };
    const quotaFiles = this.ctx.workspaceMaxFiles;
    return { workspace_id: null, ...usage, quota_bytes: s.quotaBytes, quota_files: quotaFiles, over_quota: usage.bytes > s.quotaBytes || usage.files > quotaFiles };
  }

  /** Remove the volumes (after the container: declare this before the run). Deferred when a sink is given. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    const names = this.scratch.map((s) => s.name);
    const removal = withSpan('volumes.remove', { 'capsule.volumes': names.length }, () => this.ctx.volumes.remove(names)).catch((err) =>
      this.ctx.log.error({ volumes: names, err }, 'scratch volume removal failed (the reaper will retry)'),
    );
    if (this.ctx.deferRemoval) this.ctx.deferRemoval(removal);
    else await removal;
  }
}


