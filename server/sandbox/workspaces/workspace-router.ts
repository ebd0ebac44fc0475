import type { Readable } from 'node:stream';
import { EngineUnavailableError, QuotaExceededError } from '../../errors.js';
import type { VolumeSummary } from '../../runtime/container-runtime.js';
import { type InstanceIdentity, LABEL, ofInstance } from '../container/labels.js';
import type { Engine } from '../engines/engine.js';
import type { EngineSet } from '../engines/engine-set.js';
import type { RunWorkspace } from '../runs/run-request.js';
import type { FileWrite, WorkspaceInfo, Workspaces, WorkspaceService } from './workspace-service.js';

type Usage = Awaited<ReturnType<WorkspaceService['usageOf']>>;

/**
 * Workspaces over many engines: each workspace lives on one engine (its home, where create placed
 * it), with that engine's WorkspaceService; every operation on it goes there. A home that is down
 * answers engine_unavailable naming it. Homes are learned at create and list, and otherwise by asking
 * each reachable engine (after a restart) for the workspace's volume.
 */
export class WorkspaceRouter implements Workspaces {
  private readonly homes = new Map<string, string>();

  constructor(private readonly deps: { engines: EngineSet; instance: InstanceIdentity; maxPerOwner: number }) {}

  get quota(): { bytes: number; files: number } {
    return this.service(this.deps.engines.primary).quota;
  }

  /** True when any engine's workspaces own a helper with these labels (the reaper's question). */
  ownsContainer(labels: Record<string, string>): boolean {
    return this.deps.engines.all().some((e) => e.parts.workspaces?.ownsContainer(labels) ?? false);
  }

  /** Create a workspace on the engine placement picks (the owner's limit counts every engine). */
  async create(owner: string, ttlS?: number): Promise<WorkspaceInfo> {
    // Counted from the volumes' labels (list() would also read every workspace's usage).
    const { engines, instance } = this.deps;
    const counts = await Promise.all(engines.all().filter((e) => e.facts.reachable).map((e) => e.runtime.listVolumes(ofInstance(instance, { [LABEL.workspace]: '', [LABEL.owner]: owner })).then((v) => v.length, () => 0)));
    const mine = { length: counts.reduce((a, b) => a + b, 0) };
    if (mine.length >= this.deps.maxPerOwner) throw new QuotaExceededError(`owner "${owner}" already has ${mine.length} workspaces (limit ${this.deps.maxPerOwner}); delete one first`);
    const engine = this.deps.engines.place({ cpus: 0, memoryBytes: 0 });
    const info = await this.service(engine).create(owner, ttlS);
    this.homes.set(info.workspace_id, engine.name);
    return { ...info, engine: engine.name };
  }

  /** The owner's workspaces on every reachable engine. */
  async list(owner: string): Promise<WorkspaceInfo[]> {
    const reachable = this.deps.engines.all().filter((e) => e.facts.reachable);
    const lists = await Promise.all(
      reachable.map(async (e) => {
        const found = await this.service(e).list(owner).catch((err: unknown) => (err instanceof EngineUnavailableError ? [] : Promise.reject(err)));
        for (const w of found) this.homes.set(w.workspace_id, e.name);
        return found.map((w) => ({ ...w, engine: e.name }));
      }),
    );
    return lists.flat();
  }

  async info(owner: string, id: string): Promise<WorkspaceInfo> {
    const engine = await this.home(id);
    return { ...(await this.service(engine).info(owner, id)), engine: engine.name };
  }

  async delete(owner: string, id: string): Promise<void> {
    await (await this.on(id)).delete(owner, id);
    this.homes.delete(id);
  }

  /** What a run on this workspace mounts, with its home engine (the run goes there). */
  async volumeFor(owner: string, id: string): Promise<RunWorkspace> {
    const engine = await this.home(id);
    return { ...(await this.service(engine).volumeFor(owner, id)), engine: engine.name };
  }

  usageOf(v: VolumeSummary): Promise<Usage> {
    const id = v.labels[LABEL.workspace];
    return this.on(id ?? '').then((s) => s.usageOf(v));
  }

  async usageAfterRun(ws: RunWorkspace, containerId: string, stopAfterBytes: number): Promise<Usage> {
    return this.service(this.deps.engines.home(ws.engine, `workspace ${ws.id}`)).usageAfterRun(ws, containerId, stopAfterBytes);
  }

  async writeFiles(owner: string, id: string, files: FileWrite[]) {
    return (await this.on(id)).writeFiles(owner, id, files);
  }

  async readFile(owner: string, id: string, path: string, offset?: number, maxBytes?: number) {
    return (await this.on(id)).readFile(owner, id, path, offset, maxBytes);
  }

  async openFile(owner: string, id: string, path: string) {
    return (await this.on(id)).openFile(owner, id, path);
  }

  async writeFileStream(owner: string, id: string, path: string, source: Readable, size: number, mode?: number) {
    return (await this.on(id)).writeFileStream(owner, id, path, source, size, mode);
  }

  async listFiles(owner: string, id: string, path?: string, recursive?: boolean, limit?: number) {
    return (await this.on(id)).listFiles(owner, id, path, recursive, limit);
  }

  async deleteFiles(owner: string, id: string, paths: string[]) {
    return (await this.on(id)).deleteFiles(owner, id, paths);
  }

  async download(owner: string, id: string) {
    return (await this.on(id)).download(owner, id);
  }

  async upload(owner: string, id: string, source: Readable) {
    return (await this.on(id)).upload(owner, id, source);
  }

  /** Expired workspaces on every reachable engine (each engine's reaper also sweeps its own). */
  async sweepExpired(): Promise<number> {
    const counts = await Promise.all(this.deps.engines.all().filter((e) => e.facts.reachable).map((e) => this.service(e).sweepExpired().catch(() => 0)));
    return counts.reduce((a, b) => a + b, 0);
  }

  private service(engine: Engine): WorkspaceService {
    const s = engine.parts.workspaces;
    if (!s) throw new EngineUnavailableError(`engine "${engine.name}" has no workspaces`);
    return s;
  }

  private async on(id: string): Promise<WorkspaceService> {
    return this.service(await this.home(id));
  }

  /**
   * The workspace's home engine: known, or found by asking every reachable engine. Not found anywhere:
   * the primary's service answers (invalid id, not found), unless an engine is down that may hold it.
   */
  private async home(id: string): Promise<Engine> {
    const { engines, instance } = this.deps;
    const known = this.homes.get(id);
    if (known) return engines.home(known, `workspace ${id}`);
    const reachable = engines.all().filter((e) => e.facts.reachable);
    const found = await Promise.all(
      reachable.map(async (e) => ((await e.runtime.listVolumes(ofInstance(instance, { [LABEL.workspace]: id })).catch(() => [])).length > 0 ? e : null)),
    );
    const engine = found.find((e) => e !== null);
    if (engine) {
      this.homes.set(id, engine.name);
      return engine;
    }
    const down = engines.all().filter((e) => !e.facts.reachable).map((e) => `"${e.name}"`);
    if (down.length && /^ws_[0-9a-f]{16}$/.test(id)) {
      throw new EngineUnavailableError(`workspace ${id} is on no reachable engine; it may live on engine ${down.join(', ')}, which is down`, { details: { engines: down } });
    }
    return engines.primary;
  }
}
