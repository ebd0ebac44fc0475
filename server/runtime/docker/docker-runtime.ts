import type { Readable } from 'node:stream';
import { ImageMissingError } from '../../errors.js';
import type {
  AttachedIo,
  CallOptions,
  ContainerRuntime,
  ContainerSpec,
  ContainerState,
  ContainerSummary,
  EngineInfo,
  ImageInfo,
  NetworkInfo,
  NetworkSpec,
  PathStat,
  VolumeSummary,
} from '../container-runtime.js';
import { getArchive, putArchive, statPath } from './docker-archive.js';
import { attach } from './docker-attach.js';
import { DockerClient, type DockerRuntimeOptions } from './docker-client.js';
import { engineStatus } from './docker-errors.js';
import { connectNetwork, createNetwork, listNetworks, removeNetwork } from './docker-networks.js';
import { createOptions } from './docker-spec.js';
import { createVolume, labelFilter, listVolumes, removeVolume } from './docker-volumes.js';

export { DEFAULT_REQUEST_TIMEOUTS_MS, type DockerRuntimeOptions, type RequestTimeouts } from './docker-client.js';

/** dockerode's info() and version() take options (an abortSignal), which its type definitions omit. */
interface DockerodeSignalled {
  info(options: { abortSignal: AbortSignal }): Promise<{
    OperatingSystem: string; OSType: string; Architecture: string; KernelVersion: string; NCPU: number; MemTotal: number;
    CgroupVersion?: string; Runtimes?: Record<string, unknown>; DefaultRuntime?: string;
  }>;
  version(options: { abortSignal: AbortSignal }): Promise<{ Version: string; ApiVersion: string }>;
}

/** Docker's health status ('none' or absent: no health check). */
function healthOf(status: string | undefined): ContainerState['health'] {
  return status === 'starting' || status === 'healthy' || status === 'unhealthy' ? status : null;
}

/** Docker reports a time that never happened as year 1. */
const timeOrNull = (t: string | undefined): string | null => (t && !t.startsWith('0001') ? t : null);

/**
 * The Docker Engine implementation of ContainerRuntime: the only code that talks to dockerode. Every
 * call goes through DockerClient (request signal, one error translation); volumes, archives and attach
 * live in their own files.
 */
export class DockerRuntime implements ContainerRuntime {
  readonly endpoint: string;
  private readonly client: DockerClient;

  constructor(options: DockerRuntimeOptions = {}) {
    this.client = new DockerClient(options);
    this.endpoint = this.client.endpoint;
  }

  private get docker() {
    return this.client.docker;
  }

  async info(options?: CallOptions): Promise<EngineInfo> {
    const [info, version] = await Promise.all([
      this.client.call('info', options, (abortSignal) => (this.docker as unknown as DockerodeSignalled).info({ abortSignal })),
      this.client.call('info', options, (abortSignal) => (this.docker as unknown as DockerodeSignalled).version({ abortSignal })),
    ]);
    return {
      version: version.Version,
      apiVersion: version.ApiVersion,
      os: `${info.OperatingSystem} (${info.OSType}/${info.Architecture})`,
      kernelVersion: info.KernelVersion,
      cpus: info.NCPU,
      memoryBytes: info.MemTotal,
      cgroupVersion: String(info.CgroupVersion ?? '1'),
      runtimes: Object.keys(info.Runtimes ?? {}),
      defaultRuntime: info.DefaultRuntime ?? 'runc',
      endpoint: this.endpoint,
    };
  }

  async inspectImage(ref: string, options?: CallOptions): Promise<ImageInfo | null> {
    try {
      // Dialled directly: dockerode's image.inspect does not pass an abortSignal on.
      const img = await this.client.call('inspectImage', options, (abortSignal) =>
        this.get<{ Id: string; RepoTags?: string[]; Size: number; Created: string; Config?: { Labels?: Record<string, string> | null; Env?: string[] } }>(
          `/images/${ref}/json`,
          abortSignal,
        ),
      );
      return { id: img.Id, tags: img.RepoTags ?? [], sizeBytes: img.Size, createdAt: img.Created, labels: img.Config?.Labels ?? {}, env: img.Config?.Env ?? [] };
    } catch (err) {
      if (engineStatus(err) === 404) return null;
      throw err;
    }
  }

  async networkExists(name: string, options?: CallOptions): Promise<boolean> {
    try {
      await this.client.call('networkExists', options, (abortSignal) => this.get(`/networks/${name}`, abortSignal));
      return true;
    } catch (err) {
      if (engineStatus(err) === 404) return false;
      throw err;
    }
  }

  async listImages(prefix: string, options?: CallOptions): Promise<ImageInfo[]> {
    const images = await this.client.call('listImages', options, (abortSignal) => this.docker.listImages({ abortSignal }));
    return images
      .filter((img) => (img.RepoTags ?? []).some((tag) => tag.startsWith(prefix)))
      .map((img) => ({
        id: img.Id,
        tags: (img.RepoTags ?? []).filter((tag) => tag.startsWith(prefix)),
        sizeBytes: img.Size,
        createdAt: new Date(img.Created * 1000).toISOString(),
        labels: img.Labels ?? {},
      }));
  }

  async create(spec: ContainerSpec, options?: CallOptions): Promise<string> {
    try {
      const container = await this.client.call('create', options, (abortSignal) => this.docker.createContainer({ ...createOptions(spec), abortSignal }));
      return container.id;
    } catch (err) {
      if (engineStatus(err) === 404 && /image/i.test((err as Error).message)) {
        throw new ImageMissingError(`image ${spec.image} is not present on the engine${this.client.name ? ` "${this.client.name}"` : ''}: run \`make images\``, { cause: err });
      }
      throw err;
    }
  }

  putArchive(id: string, path: string, tar: Readable, options?: CallOptions): Promise<void> {
    return putArchive(this.client, id, path, tar, options);
  }

  getArchive(id: string, path: string, options?: CallOptions): Promise<Readable> {
    return getArchive(this.client, id, path, options);
  }

  statPath(id: string, path: string, options?: CallOptions): Promise<PathStat | null> {
    return statPath(this.client, id, path, options);
  }

  createVolume(name: string, labels: Record<string, string>, driverOptions?: Record<string, string>, options?: CallOptions): Promise<void> {
    return createVolume(this.client, name, labels, driverOptions, options);
  }

  removeVolume(name: string, options?: CallOptions): Promise<void> {
    return removeVolume(this.client, name, options);
  }

  listVolumes(labels: Record<string, string>, options?: CallOptions): Promise<VolumeSummary[]> {
    return listVolumes(this.client, labels, options);
  }

  createNetwork(spec: NetworkSpec, options?: CallOptions): Promise<string> {
    return createNetwork(this.client, spec, options);
  }

  removeNetwork(name: string, options?: CallOptions): Promise<void> {
    return removeNetwork(this.client, name, options);
  }

  connectNetwork(network: string, containerId: string, endpoint?: { ipv4Address?: string }, options?: CallOptions): Promise<void> {
    return connectNetwork(this.client, network, containerId, endpoint, options);
  }

  listNetworks(labels: Record<string, string>, options?: CallOptions): Promise<NetworkInfo[]> {
    return listNetworks(this.client, labels, options);
  }

  attach(id: string, options?: CallOptions): Promise<AttachedIo> {
    return attach(this.client, id, options);
  }

  async start(id: string, options?: CallOptions): Promise<void> {
    await this.client.call('start', options, (abortSignal) => this.docker.getContainer(id).start({ abortSignal }));
  }

  async wait(id: string, options?: CallOptions): Promise<number> {
    const res = (await this.client.call('wait', options, (abortSignal) => this.docker.getContainer(id).wait({ abortSignal }))) as { StatusCode: number };
    return res.StatusCode;
  }

  async inspect(id: string, options?: CallOptions): Promise<ContainerState> {
    const info = await this.client.call('inspect', options, (abortSignal) => this.docker.getContainer(id).inspect({ abortSignal }));
    const s = info.State;
    const startedAt = timeOrNull(s.StartedAt);
    return {
      running: s.Running,
      // A created container reports ExitCode 0 without having run.
      exitCode: s.Running || startedAt === null ? null : s.ExitCode,
      oomKilled: s.OOMKilled,
      startedAt,
      finishedAt: timeOrNull(s.FinishedAt),
      health: healthOf(s.Health?.Status),
      addresses: Object.fromEntries(Object.entries(info.NetworkSettings?.Networks ?? {}).flatMap(([name, n]) => (n.IPAddress ? [[name, n.IPAddress]] : []))),
    };
  }

  async kill(id: string, signal: string, options?: CallOptions): Promise<void> {
    try {
      await this.client.call('kill', options, (abortSignal) => this.docker.getContainer(id).kill({ signal, abortSignal }));
    } catch (err) {
      // 409: not running; 404: already gone. Both mean there is nothing left to signal.
      const status = engineStatus(err);
      if (status === 409 || status === 404) return;
      throw err;
    }
  }

  async remove(id: string, options?: CallOptions): Promise<void> {
    try {
      await this.client.call('remove', options, (abortSignal) => this.docker.getContainer(id).remove({ force: true, v: true, abortSignal }));
    } catch (err) {
      const status = engineStatus(err);
      // 404: already gone; 409 "removal already in progress": the engine finishes it.
      if (status === 404 || status === 409) return;
      throw err;
    }
  }

  async list(labels: Record<string, string>, options?: CallOptions): Promise<ContainerSummary[]> {
    const rows = await this.client.call('list', options, (abortSignal) => this.docker.listContainers({ all: true, filters: { label: labelFilter(labels) }, abortSignal }));
    return rows.map((r) => ({ id: r.Id, labels: r.Labels ?? {}, state: r.State, createdAt: new Date(r.Created * 1000) }));
  }

  /** A GET answered with JSON, for the calls dockerode would not let an abortSignal reach. */
  private get<T = unknown>(path: string, abortSignal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.docker.modem.dial(
        { path, method: 'GET', abortSignal, statusCodes: { 200: true, 404: 'not found', 500: 'server error' } },
        (err, data) => (err ? reject(err) : resolve(data as T)),
      ),
    );
  }
}
