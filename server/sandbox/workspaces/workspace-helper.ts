import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { RuntimeFailureError } from '../../errors.js';
import type { ContainerRuntime } from '../../runtime/container-runtime.js';
import { workspaceVolumeMount } from '../container/container-spec.js';
import { helperLabels, type InstanceIdentity } from '../container/labels.js';
import { lockedDown, SANDBOX_USER } from '../container/lockdown.js';
import type { RunWorkspace } from '../runs/run-request.js';
import { WORKSPACE_ROOT } from './workspace-paths.js';

export interface HelperContext {
  runtime: ContainerRuntime;
  log: Logger;
  instance: InstanceIdentity;
  image: string;
  /** Ids of helpers alive now, so the reaper leaves them alone. */
  live: Set<string>;
}

/**
 * A created-but-never-started container that mounts a workspace volume at /workspace, so files move
 * through the engine's archive API with no process running anywhere. Disposal removes it.
 */
export class WorkspaceHelper implements AsyncDisposable {
  private constructor(
    private readonly ctx: HelperContext,
    readonly id: string,
    private readonly helperId: string,
  ) {}

  static async create(ctx: HelperContext, ws: RunWorkspace, cmd: string[] = ['true']): Promise<WorkspaceHelper> {
    const workspaceId = ws.id;
    const helperId = `helper_${randomBytes(6).toString('hex')}`;
    ctx.live.add(helperId);
    try {
      const id = await ctx.runtime.create(lockedDown({
        image: ctx.image,
        cmd,
        user: SANDBOX_USER,
        workdir: WORKSPACE_ROOT,
        env: {},
        labels: helperLabels('helper', helperId, ctx.instance, workspaceId),
        openStdin: false,
        memoryBytes: 16 * 1024 * 1024,
        nanoCpus: 1e8,
        pidsLimit: 8,
        ulimits: [],
        tmpfs: {},
        volumes: [workspaceVolumeMount(WORKSPACE_ROOT, ws.volume, workspaceId, ctx.instance.name, ws.driverOptions)],
        init: false,
        ...(cmd.length > 1 ? { tmpfs: { '/tmp': { sizeBytes: 1024 * 1024, mode: 0o1777 } } } : {}),
      }));
      return new WorkspaceHelper(ctx, id, helperId);
    } catch (err) {
      ctx.live.delete(helperId);
      throw err;
    }
  }

  /**
   * Run one program (argv, never a shell string) in a fresh locked-down container on the workspace,
   * as uid 10001 with no network, and remove it. For what the archive API cannot do (deleting files).
   */
  static async runOnce(ctx: HelperContext, ws: RunWorkspace, argv: string[]): Promise<number> {
    await using helper = await WorkspaceHelper.create(ctx, ws, argv);
    await ctx.runtime.start(helper.id);
    const code = await ctx.runtime.wait(helper.id);
    if (code !== 0) throw new RuntimeFailureError(`${argv[0]} exited with ${code} in workspace ${ws.id}`);
    return code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      await this.ctx.runtime.remove(this.id);
    } catch (err) {
      this.ctx.log.error({ container_id: this.id, err }, 'helper removal failed (the reaper will retry)');
    } finally {
      this.ctx.live.delete(this.helperId);
    }
  }
}
