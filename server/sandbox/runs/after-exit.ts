import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import { OUTPUT_DIR } from '../container/container-spec.js';
import { readRange, tarEntries } from '../container/tar.js';
import type { RunVolumes } from '../volumes/run-volumes.js';
import type { Workspaces } from '../workspaces/workspace-service.js';
import { collectFiles } from './collect-files.js';
import type { PreparedRun } from './run-request.js';
import type { RunResult } from './run-result.js';

export interface AfterExitDeps {
  runtime: ContainerRuntime;
  workspaces?: Workspaces;
  /** CAPSULE_COLLECT_MAX_BYTES: most bytes `collect` embeds in one result. */
  collectMaxBytes: number;
}

type AfterExit = (containerId: string) => Promise<{ extra: Partial<RunResult>; outputs: Map<string, Buffer> }>;

/**
 * What a run reads from its stopped container before removal, or null when it reads nothing: the
 * files `collect` matched, the usage of its workspace (or scratch /workspace), and the files a tool
 * wrote to /capsule-out (each up to `outputsMaxBytes`).
 */
export function afterExitSteps(deps: AfterExitDeps, job: PreparedRun, scratch: RunVolumes | null, outputsMaxBytes: number | null): AfterExit | null {
  if (!job.collect.length && !job.workspace && outputsMaxBytes === null && !scratch) return null;
  return async (containerId) => {
    // The usage helper runs while the files are read from the stopped container.
    const scratchUsage = scratch?.workspaceReport();
    scratchUsage?.catch(() => undefined);
    const outputs = outputsMaxBytes === null ? new Map<string, Buffer>() : await toolOutputs(deps.runtime, containerId, outputsMaxBytes);
    const extra: Partial<RunResult> = {};
    if (job.collect.length) extra.files = await collectFiles(deps.runtime, containerId, job.collect, deps.collectMaxBytes, job.workspace?.id ?? null);
    const scratchReport = await scratchUsage;
    if (scratchReport) extra.workspace = scratchReport;
    if (job.workspace && deps.workspaces) {
      const quota = deps.workspaces.quota;
      const usage = await deps.workspaces.usageAfterRun(job.workspace, containerId, quota.bytes);
      extra.workspace = {
        workspace_id: job.workspace.id,
        ...usage,
        quota_bytes: quota.bytes,
        quota_files: quota.files,
        over_quota: usage.bytes > quota.bytes || usage.files > quota.files,
      };
    }
    return { extra, outputs };
  };
}

/** The regular files under /capsule-out, each read whole when it is at most `maxBytes`. */
async function toolOutputs(runtime: ContainerRuntime, containerId: string, maxBytes: number): Promise<Map<string, Buffer>> {
  const outputs = new Map<string, Buffer>();
  for await (const { header, stream } of tarEntries(await runtime.getArchive(containerId, OUTPUT_DIR))) {
    const name = header.name.replace(/^capsule-out\/?/, '');
    if (!name || header.type !== 'file') continue;
    if ((header.size ?? 0) <= maxBytes) outputs.set(name, await readRange(stream, 0, header.size ?? 0));
  }
  return outputs;
}
