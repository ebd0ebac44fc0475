import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { BusyError, InvalidInputError, NotFoundError, QuotaExceededError } from '../../errors.js';
import type { ContainerRuntime, VolumeSummary } from '../../runtime/container-runtime.js';
import { VolumeInUseError } from '../../runtime/runtime-errors.js';
import { type InstanceIdentity, LABEL, ofInstance, ownedBy, workspaceLabels } from '../container/labels.js';
import { withSpan } from '../../telemetry/tracing.js';
import { readRange, tarEntries } from '../container/tar.js';
import type { BoundedVolumes } from '../volumes/bounded-volumes.js';
import type { RunWorkspace } from '../runs/run-request.js';
import { cappedStream, type FileEntry, listEntries, spoolArchive, tarOfStream, type Usage } from './workspace-archive.js';
import { WorkspaceHelper, type HelperContext } from './workspace-helper.js';
import { isBounded, runWorkspace, WorkspaceUsage } from './workspace-usage.js';
import { checkQuota, describe, isExpired, volumeName, type WorkspaceInfo } from './workspace-records.js';
import { type FileWrite, mimeTypeOf, prepareFiles, tarOfFiles } from './workspace-files.js';
import { inWorkspace, resolveInWorkspace, workspaceRelative } from './workspace-paths.js';

export type { FileWrite };
export { mimeTypeOf };
export type { FileEntry, Usage };
export { volumeName, type WorkspaceInfo };

export type WorkspaceConfig = Pick<
  Config,
  'CAPSULE_WORKSPACE_MAX_BYTES' | 'CAPSULE_WORKSPACE_MAX_FILES' | 'CAPSULE_WORKSPACE_TTL' | 'CAPSULE_WORKSPACE_MAX_TTL' | 'CAPSULE_MAX_WORKSPACES_PER_OWNER' | 'CAPSULE_SANDBOX_IMAGE'
>;

export interface WorkspaceDeps {
  runtime: ContainerRuntime;
  log: Logger;
  instance: InstanceIdentity;
  config: WorkspaceConfig;
  /** Quota'd volumes; without them (or without enforcement) workspaces are plain, unbounded Docker volumes. */
  volumes?: BoundedVolumes;
}

const ID = /^ws_[0-9a-f]{16}$/;

/** What callers use of workspaces: one engine's WorkspaceService, or the router over many engines. */
export type Workspaces = Pick<WorkspaceService, keyof WorkspaceService>;

/**
 * Workspaces: Docker volumes that persist files between ephemeral runs; with disk quotas enforced each
 * is a quota'd btrfs subvolume (bounded-volumes.ts), so a run cannot write past quota + slack. Files
 * move through the engine's archive API on never-started helper containers; every path is checked to
 * stay inside /workspace, symlinks included, and every write of Capsule's own is checked against the quota.
 */
export class WorkspaceService {
  private readonly helpers: HelperContext;
  private readonly usage: WorkspaceUsage;

  constructor(private readonly deps: WorkspaceDeps) {
    this.helpers = { runtime: deps.runtime, log: deps.log, instance: deps.instance, image: deps.config.CAPSULE_SANDBOX_IMAGE, live: new Set() };
    this.usage = new WorkspaceUsage({ runtime: deps.runtime, helpers: this.helpers, ...(deps.volumes ? { volumes: deps.volumes } : {}) });
  }

  get quota(): { bytes: number; files: number } {
    return { bytes: this.deps.config.CAPSULE_WORKSPACE_MAX_BYTES, files: this.deps.config.CAPSULE_WORKSPACE_MAX_FILES };
  }

  /** True when a container with these labels is a helper in use right now (the reaper's question). */
  ownsContainer(labels: Record<string, string>): boolean {
    return ownedBy(labels, ['helper'], this.helpers.live);
  }

  /** Create a workspace for `owner`, living `ttlS` seconds (default and maximum from the config). */
  async create(owner: string, ttlS?: number): Promise<WorkspaceInfo> {
    const { config, runtime } = this.deps;
    const ttlMs = ttlS === undefined ? config.CAPSULE_WORKSPACE_TTL : ttlS * 1000;
    if (!Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > config.CAPSULE_WORKSPACE_MAX_TTL) {
      throw new InvalidInputError(`ttl_s must be an integer from 1 to ${config.CAPSULE_WORKSPACE_MAX_TTL / 1000}; got ${ttlS}`);
    }
    const mine = await runtime.listVolumes(ofInstance(this.deps.instance, { [LABEL.workspace]: '', [LABEL.owner]: owner }));
    if (mine.length >= config.CAPSULE_MAX_WORKSPACES_PER_OWNER) {
      throw new QuotaExceededError(`owner "${owner}" already has ${mine.length} workspaces (limit ${config.CAPSULE_MAX_WORKSPACES_PER_OWNER}); delete one first`);
    }
    const id = `ws_${randomBytes(8).toString('hex')}`;
    const now = new Date();
    const expires = new Date(now.getTime() + ttlMs);
    const volume = volumeName(id);
    const labels = workspaceLabels({ workspaceId: id, owner, instance: this.deps.instance, createdAt: now, expiresAt: expires });
    if (await this.deps.volumes?.enabled()) {
      // The helper hands the new subvolume to uid 10001; nothing to copy from the image.
      await withSpan('volumes.create', { 'capsule.workspace': id }, () => this.deps.volumes!.create([{ name: volume, labels, quotaBytes: this.quota.bytes }]));
    } else {
      await runtime.createVolume(volume, labels);
      try {
        // The first mount copies the image's /workspace (owned by uid 10001) into the new volume.
        await using _helper = await WorkspaceHelper.create(this.helpers, { id, volume });
      } catch (err) {
        await runtime.removeVolume(volume).catch(() => undefined);
        throw err;
      }
    }
    // 0 bytes: an empty subvolume takes 16 KiB once the filesystem commits, which list_workspaces reports.
    return { workspace_id: id, created_at: now.toISOString(), expires_at: expires.toISOString(), bytes: 0, files: 0, quota_bytes: this.quota.bytes, quota_files: this.quota.files };
  }

  /** The owner's workspaces with their size and file count. */
  async list(owner: string): Promise<WorkspaceInfo[]> {
    const volumes = await this.deps.runtime.listVolumes(ofInstance(this.deps.instance, { [LABEL.workspace]: '', [LABEL.owner]: owner }));
    const live = volumes.filter((v) => !isExpired(v));
    const usage = await this.usage.of(live);
    return live.map((v) => ({ ...describe(v, this.quota), ...usage.get(v.name)! }));
  }

  /** One workspace's facts. */
  async info(owner: string, id: string): Promise<WorkspaceInfo> {
    const v = await this.find(owner, id);
    return { ...describe(v, this.quota), ...(await this.usage.of([v])).get(v.name)! };
  }

  /** Delete a workspace and its files; refused while a run uses it. */
  async delete(owner: string, id: string): Promise<void> {
    await this.removeVolume(await this.find(owner, id));
  }

  /** What a run on this workspace mounts (checks owner and expiry). */
  async volumeFor(owner: string, id: string): Promise<RunWorkspace> {
    return runWorkspace(await this.find(owner, id));
  }

  /** Usage of a workspace volume (exact for a quota'd one), by volume summary. */
  async usageOf(v: VolumeSummary): Promise<Usage> {
    return (await this.usage.of([v])).get(v.name)!;
  }

  /**
   * Usage after a run on `ws`, whose stopped container `containerId` still mounts it. Exact for a quota'd
   * workspace; for an older one counted from the container, stopping past `stopAfterBytes`.
   */
  async usageAfterRun(ws: RunWorkspace, containerId: string, stopAfterBytes: number): Promise<Usage> {
    const [v] = await this.deps.runtime.listVolumes(ofInstance(this.deps.instance, { [LABEL.workspace]: ws.id }));
    return this.usage.afterRun(v, containerId, stopAfterBytes);
  }

  /** Write files (all or nothing): paths checked, quota checked before anything is written. */
  async writeFiles(owner: string, id: string, files: FileWrite[]): Promise<{ written: Array<{ path: string; bytes: number }>; usage: Usage }> {
    const v = await this.find(owner, id);
    const prepared = prepareFiles(files);
    await using helper = await WorkspaceHelper.create(this.helpers, runWorkspace(v));
    for (const dir of new Set(prepared.map((f) => posix.dirname(f.relative)).filter((d) => d !== '.'))) await resolveInWorkspace(this.deps.runtime, helper.id, dir, true);
    const before = await this.usage.before(v, helper.id);
    const adding = prepared.reduce((n, f) => n + f.content.length, 0);
    checkQuota(this.quota, before, adding, prepared.length, id);
    await withSpan('files.put', { 'capsule.workspace': id, 'capsule.files': prepared.length, 'capsule.bytes': adding }, () =>
      this.deps.runtime.putArchive(helper.id, '/workspace', tarOfFiles(prepared)),
    );
    return { written: prepared.map((f) => ({ path: f.relative, bytes: f.content.length })), usage: { bytes: before.bytes + adding, files: before.files + prepared.length } };
  }

  /** Read (a range of) one file; symlinks are followed only while they stay inside the workspace. */
  async readFile(owner: string, id: string, path: string, offset = 0, maxBytes = 1 << 20): Promise<{ path: string; size: number; content: Buffer; offset: number; eof: boolean; mime_type: string }> {
    const v = await this.find(owner, id);
    await using helper = await WorkspaceHelper.create(this.helpers, runWorkspace(v));
    const resolved = await resolveInWorkspace(this.deps.runtime, helper.id, workspaceRelative(path), false);
    for await (const { header, stream } of tarEntries(await this.deps.runtime.getArchive(helper.id, resolved))) {
      if (header.type === 'directory') throw new InvalidInputError(`"${path}" is a directory; use list_files`);
      if (header.type !== 'file' && header.type !== 'contiguous-file') throw new InvalidInputError(`"${path}" is not a regular file`);
      const size = header.size ?? 0;
      const content = await readRange(stream, offset, maxBytes);
      return { path: posix.relative('/workspace', resolved), size, content, offset, eof: offset + content.length >= size, mime_type: mimeTypeOf(resolved) };
    }
    throw new NotFoundError(`"${path}" not found in workspace ${id}`);
  }

  /** Stream one whole file (REST download); the caller must consume or destroy the stream. */
  async openFile(owner: string, id: string, path: string): Promise<{ size: number; mime_type: string; stream: Readable }> {
    const v = await this.find(owner, id);
    const helper = await WorkspaceHelper.create(this.helpers, runWorkspace(v));
    try {
      const resolved = await resolveInWorkspace(this.deps.runtime, helper.id, workspaceRelative(path), false);
      const entries = tarEntries(await this.deps.runtime.getArchive(helper.id, resolved));
      const first = await entries.next();
      if (first.done) throw new NotFoundError(`"${path}" not found in workspace ${id}`);
      const { header, stream } = first.value;
      if (header.type !== 'file' && header.type !== 'contiguous-file') throw new InvalidInputError(`"${path}" is not a regular file`);
      const out = new PassThrough();
      stream.pipe(out);
      const cleanup = () => void entries.return(undefined).finally(() => helper[Symbol.asyncDispose]());
      out.once('close', cleanup);
      stream.once('end', () => out.end());
      return { size: header.size ?? 0, mime_type: mimeTypeOf(resolved), stream: out };
    } catch (err) {
      await helper[Symbol.asyncDispose]();
      throw err;
    }
  }

  /** Write one file from a stream of known size (REST upload), within the quota. */
  async writeFileStream(owner: string, id: string, path: string, source: Readable, size: number, mode = 0o644): Promise<Usage> {
    const v = await this.find(owner, id);
    const relative = workspaceRelative(path);
    if (!relative) throw new InvalidInputError('path must name a file');
    await using helper = await WorkspaceHelper.create(this.helpers, runWorkspace(v));
    if (posix.dirname(relative) !== '.') await resolveInWorkspace(this.deps.runtime, helper.id, posix.dirname(relative), true);
    const before = await this.usage.before(v, helper.id);
    checkQuota(this.quota, before, size, 1, id);
    await this.deps.runtime.putArchive(helper.id, '/workspace', tarOfStream(relative, size, mode, source));
    return { bytes: before.bytes + size, files: before.files + 1 };
  }

  /** List a folder (or, recursively, everything under it); at most `limit` entries. */
  async listFiles(owner: string, id: string, path = '', recursive = false, limit = 10_000): Promise<{ entries: FileEntry[]; truncated: boolean }> {
    const v = await this.find(owner, id);
    await using helper = await WorkspaceHelper.create(this.helpers, runWorkspace(v));
    const resolved = await resolveInWorkspace(this.deps.runtime, helper.id, workspaceRelative(path), false);
    return await listEntries(await this.deps.runtime.getArchive(helper.id, resolved), resolved, path, limit, recursive);
  }

  /** Delete files and folders (recursively): the archive API cannot delete, so a locked-down container runs rm. */
  async deleteFiles(owner: string, id: string, paths: string[]): Promise<string[]> {
    const v = await this.find(owner, id);
    const relative = paths.map((p) => workspaceRelative(p));
    if (relative.some((p) => p === '')) throw new InvalidInputError('refusing to delete the workspace root; use delete_workspace');
    await WorkspaceHelper.runOnce(this.helpers, runWorkspace(v), ['rm', '-rf', '--', ...relative.map(inWorkspace)]);
    return relative;
  }

  /** Stream the whole workspace as a tar (REST download), cut at the quota size. */
  async download(owner: string, id: string): Promise<Readable> {
    const v = await this.find(owner, id);
    const helper = await WorkspaceHelper.create(this.helpers, runWorkspace(v));
    try {
      const source = await this.deps.runtime.getArchive(helper.id, '/workspace');
      const cap = this.quota.bytes * 1.1 + 10 * 1024 * 1024;
      const out = cappedStream(source, cap, () => new QuotaExceededError(`workspace ${id} archive exceeds ${cap} bytes`));
      out.once('close', () => void helper[Symbol.asyncDispose]());
      return out;
    } catch (err) {
      await helper[Symbol.asyncDispose]();
      throw err;
    }
  }

  /**
   * Upload a tar (REST): every entry is validated (no absolute or ".." names, links only inside the
   * workspace) and counted against the quota while it is re-packed into a spool file on disk; only a
   * fully valid archive reaches the workspace, so a rejected upload leaves nothing behind.
   */
  async upload(owner: string, id: string, source: Readable): Promise<Usage> {
    const v = await this.find(owner, id);
    await using helper = await WorkspaceHelper.create(this.helpers, runWorkspace(v));
    const before = await this.usage.before(v, helper.id);
    const dir = await mkdtemp(join(tmpdir(), 'capsule-upload-'));
    const spool = join(dir, 'upload.tar');
    try {
      const { bytes, count } = await spoolArchive(source, spool, (adding, entries) => checkQuota(this.quota, before, adding, entries, id));
      await this.deps.runtime.putArchive(helper.id, '/workspace', createReadStream(spool));
      return { bytes: before.bytes + bytes, files: before.files + count };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Remove workspaces past their expiry (the reaper calls this). */
  async sweepExpired(): Promise<number> {
    const volumes = await this.deps.runtime.listVolumes(ofInstance(this.deps.instance, { [LABEL.workspace]: '' }));
    let removed = 0;
    for (const v of volumes.filter(isExpired)) {
      try {
        await this.removeVolume(v);
        removed++;
        this.deps.log.info({ workspace_id: v.labels[LABEL.workspace] }, 'expired workspace removed');
      } catch (err) {
        this.deps.log.warn({ workspace_id: v.labels[LABEL.workspace], err: (err as Error).message }, 'expired workspace still in use');
      }
    }
    return removed;
  }

  /** The Docker volume, then (quota'd) its subvolume; BusyError while a run uses it (the runtime's VolumeInUseError). */
  private async removeVolume(v: VolumeSummary): Promise<void> {
    try {
      if (isBounded(v) && this.deps.volumes) await this.deps.volumes.remove([v.name]);
      else await this.deps.runtime.removeVolume(v.name);
    } catch (err) {
      throw err instanceof VolumeInUseError ? new BusyError(`volume ${v.name} is in use by a running container; retry when it ends`, { cause: err, details: { retry_after_s: 5 } }) : err;
    }
  }

  private async find(owner: string, id: string): Promise<VolumeSummary> {
    if (!ID.test(id)) throw new InvalidInputError(`"${id}" is not a workspace id (ws_ and 16 hex digits)`);
    const [v] = await this.deps.runtime.listVolumes(ofInstance(this.deps.instance, { [LABEL.workspace]: id }));
    // Another owner's workspace is reported exactly like a missing one.
    if (!v || v.labels[LABEL.owner] !== owner || isExpired(v)) {
      throw new NotFoundError(`workspace ${id} not found (it never existed, expired, or belongs to another owner)`);
    }
    return v;
  }
}
