import Docker from 'dockerode';
import type { Duplex, Readable } from 'node:stream';
import {
  BusyError,
  EngineUnavailableError,
  ImageMissingError,
  RuntimeFailureError,
} from '../errors.js';
import type {
  AttachedIo,
  ContainerRuntime,
  ContainerSpec,
  ContainerState,
  ContainerSummary,
  EngineInfo,
  ImageInfo,
  PathStat,
  VolumeSummary,
} from './container-runtime.js';
import { demuxDockerStream } from './docker-stream-demux.js';

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']);

/** dockerode's HEAD /archive call, missing from its type definitions. */
interface DockerodeInfoArchive {
  infoArchive(options: { path: string }): Promise<unknown>;
}

interface DockerodeError {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
}

function modemOptions(host: string): Docker.DockerOptions {
  const url = new URL(host);
  if (url.protocol === 'unix:') return { socketPath: url.pathname };
  if (url.protocol === 'tcp:' || url.protocol === 'http:') return { protocol: 'http', host: url.hostname, port: Number(url.port || 2375) };
  if (url.protocol === 'https:') return { protocol: 'https', host: url.hostname, port: Number(url.port || 2376) };
  throw new Error(`unsupported Docker host ${host}: use unix:///path or tcp://host:port`);
}

/** The Docker Engine implementation of ContainerRuntime: the only module that talks to dockerode. */
export class DockerRuntime implements ContainerRuntime {
  readonly endpoint: string;
  private readonly docker: Docker;

  /** `dockerHost` (unix:///path or tcp://host:port) overrides DOCKER_HOST; by default docker-modem reads DOCKER_HOST and its TLS variables. */
  constructor(options: { dockerHost?: string } = {}) {
    const host = options.dockerHost ?? process.env.DOCKER_HOST;
    this.endpoint = host && host.length > 0 ? host : 'unix:///var/run/docker.sock';
    this.docker = options.dockerHost ? new Docker(modemOptions(options.dockerHost)) : new Docker();
  }

  async info(): Promise<EngineInfo> {
    const [info, version] = await Promise.all([this.call(() => this.docker.info()), this.call(() => this.docker.version())]);
    return {
      version: version.Version,
      apiVersion: version.ApiVersion,
      os: `${info.OperatingSystem} (${info.OSType}/${info.Architecture})`,
      kernelVersion: info.KernelVersion,
      cpus: info.NCPU,
      memoryBytes: info.MemTotal,
      cgroupVersion: String(info.CgroupVersion ?? '1'),
      runtimes: Object.keys(info.Runtimes ?? {}),
      endpoint: this.endpoint,
    };
  }

  async inspectImage(ref: string): Promise<ImageInfo | null> {
    try {
      const img = await this.call(() => this.docker.getImage(ref).inspect());
      return {
        id: img.Id,
        tags: img.RepoTags ?? [],
        sizeBytes: img.Size,
        createdAt: img.Created,
        labels: img.Config?.Labels ?? {},
        env: img.Config?.Env ?? [],
      };
    } catch (err) {
      if (err instanceof RuntimeFailureError && err.details.status === 404) return null;
      throw err;
    }
  }

  async networkExists(name: string): Promise<boolean> {
    try {
      await this.call(() => this.docker.getNetwork(name).inspect());
      return true;
    } catch (err) {
      if (err instanceof RuntimeFailureError && err.details.status === 404) return false;
      throw err;
    }
  }

  async listImages(prefix: string): Promise<ImageInfo[]> {
    const images = await this.call(() => this.docker.listImages());
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

  async create(spec: ContainerSpec): Promise<string> {
    const options: Docker.ContainerCreateOptions = {
      Image: spec.image,
      Cmd: spec.cmd,
      User: spec.user,
      WorkingDir: spec.workdir,
      Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      Labels: spec.labels,
      AttachStdin: spec.openStdin,
      AttachStdout: true,
      AttachStderr: true,
      OpenStdin: spec.openStdin,
      StdinOnce: spec.openStdin,
      Tty: false,
      NetworkDisabled: spec.network === 'none',
      HostConfig: {
        NetworkMode: spec.network,
        ReadonlyRootfs: spec.readOnlyRootfs,
        CapDrop: spec.capDrop,
        ...(spec.capAdd?.length ? { CapAdd: spec.capAdd } : {}),
        SecurityOpt: spec.securityOpt,
        Memory: spec.memoryBytes,
        MemorySwap: spec.memoryBytes, // equal to Memory: no swap
        NanoCpus: spec.nanoCpus,
        PidsLimit: spec.pidsLimit,
        Ulimits: spec.ulimits.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
        Tmpfs: spec.tmpfs,
        Mounts: [
          ...spec.volumes.map((v) => ({
            Type: 'volume' as const,
            Target: v.target,
            Source: v.source ?? '', // empty: an anonymous volume, removed with the container
            ReadOnly: v.readOnly,
            ...(v.labelsIfCreated
              ? { VolumeOptions: { NoCopy: false, Labels: v.labelsIfCreated, DriverConfig: { Name: 'local', Options: v.driverOptionsIfCreated ?? {} } } }
              : {}),
          })),
          // Type bind (not HostConfig.Binds): a missing source fails the create instead of being made empty.
          ...(spec.binds ?? []).map((b) => ({ Type: 'bind' as const, Source: b.source, Target: b.target, ReadOnly: b.readOnly })),
        ],
        Init: spec.init,
        AutoRemove: false,
        // Output reaches Capsule through attach; the engine's log copy would cost disk and (measured
        // here) cut small-write throughput tenfold: 2.7 MB/s with json-file vs 25 MB/s with none.
        LogConfig: { Type: 'none', Config: {} },
        ...(spec.runtime ? { Runtime: spec.runtime } : {}),
      },
    };
    try {
      const container = await this.call(() => this.docker.createContainer(options));
      return container.id;
    } catch (err) {
      if (err instanceof RuntimeFailureError && err.details.status === 404 && /image/i.test(err.message)) {
        throw new ImageMissingError(`image ${spec.image} is not present on the engine: run \`make images\``, { cause: err });
      }
      throw err;
    }
  }

  async putArchive(id: string, path: string, tar: Readable): Promise<void> {
    // Ownership comes from the tar headers. (copyUIDGID would resolve the container user on the
    // *host's* passwd database, which does not know uid 10001.)
    await this.call(() => this.docker.getContainer(id).putArchive(tar, { path }));
  }

  async getArchive(id: string, path: string): Promise<Readable> {
    return (await this.call(() => this.docker.getContainer(id).getArchive({ path }))) as unknown as Readable;
  }

  async statPath(id: string, path: string): Promise<PathStat | null> {
    try {
      const info = (await this.call(() => (this.docker.getContainer(id) as unknown as DockerodeInfoArchive).infoArchive({ path }))) as {
        headers?: Record<string, string>;
        resume?: () => void;
      };
      info.resume?.();
      const header = info.headers?.['x-docker-container-path-stat'];
      if (!header) throw new RuntimeFailureError('engine returned no path stat');
      const stat = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { name: string; size: number; mode: number; mtime: string; linkTarget: string };
      // Go os.FileMode: ModeDir = 1<<31, ModeSymlink = 1<<27; permission bits in the low 9.
      const dir = stat.mode >= 2 ** 31;
      const symlink = Math.floor(stat.mode / 2 ** 27) % 2 === 1;
      const other = (stat.mode & 0x0ff00000) !== 0 && !symlink;
      return {
        name: stat.name,
        size: stat.size,
        mode: stat.mode & 0o777,
        mtime: stat.mtime,
        type: dir ? 'directory' : symlink ? 'symlink' : other ? 'other' : 'file',
        linkTarget: stat.linkTarget,
      };
    } catch (err) {
      if (err instanceof RuntimeFailureError && err.details.status === 404) return null;
      throw err;
    }
  }

  async createVolume(name: string, labels: Record<string, string>, driverOptions?: Record<string, string>): Promise<void> {
    await this.call(() => this.docker.createVolume({ Name: name, Labels: labels, Driver: 'local', ...(driverOptions ? { DriverOpts: driverOptions } : {}) }));
  }

  async removeVolume(name: string): Promise<void> {
    try {
      await this.call(() => this.docker.getVolume(name).remove());
    } catch (err) {
      const status = err instanceof RuntimeFailureError ? err.details.status : undefined;
      if (status === 404) return;
      if (status === 409) throw new BusyError(`volume ${name} is in use by a running container; retry when it ends`, { cause: err, details: { retry_after_s: 5 } });
      throw err;
    }
  }

  async listVolumes(labels: Record<string, string>): Promise<VolumeSummary[]> {
    const label = Object.entries(labels).map(([k, v]) => (v === '' ? k : `${k}=${v}`));
    const res = await this.call(() => this.docker.listVolumes({ filters: { label } }));
    return (res.Volumes ?? []).map((v) => ({
      name: v.Name,
      labels: v.Labels ?? {},
      createdAt: (v as { CreatedAt?: string }).CreatedAt ?? '',
      options: (v.Options as Record<string, string> | null) ?? {},
    }));
  }

  async attach(id: string): Promise<AttachedIo> {
    const container = this.docker.getContainer(id);
    const info = await this.call(() => container.inspect());
    const withStdin = Boolean(info.Config.OpenStdin);
    // hijack upgrades the connection so stdin can be written and half-closed (EOF) while output is read.
    // Dialled directly rather than through container.attach(): that sends its options as a JSON request
    // body, and haproxy-based socket proxies (docker-socket-proxy, images/docker-proxy) drop the Upgrade
    // of a request with a body, so stdin never reached the container. An empty `file` makes the request
    // `Content-Length: 0`, which every proxy upgrades (measured through images/docker-proxy).
    const stream = (await this.call(
      () =>
        new Promise<Duplex>((resolve, reject) =>
          this.docker.modem.dial(
            {
              path: `/containers/${id}/attach?`,
              method: 'POST',
              options: { stream: true, stdout: true, stderr: true, stdin: withStdin },
              file: Buffer.alloc(0),
              hijack: withStdin,
              openStdin: false,
              isStream: true,
              statusCodes: { 101: true, 200: true, 404: 'no such container', 409: 'container stopped/paused', 500: 'server error' },
            },
            (err, out) => (err ? reject(err) : resolve(out as unknown as Duplex)),
          ),
        ),
    )) as Duplex;
    // 'close' alone is not enough: a half-open hijacked socket can report 'end' and stay open.
    const closed = new Promise<void>((resolve) => {
      stream.once('end', resolve).once('close', resolve).on('error', () => resolve());
    });
    return {
      output: demuxDockerStream(stream),
      stdin: withStdin ? stream : null,
      closed,
      destroy: () => stream.destroy(),
    };
  }

  async start(id: string): Promise<void> {
    await this.call(() => this.docker.getContainer(id).start());
  }

  async wait(id: string): Promise<number> {
    const res = (await this.call(() => this.docker.getContainer(id).wait())) as { StatusCode: number };
    return res.StatusCode;
  }

  async inspect(id: string): Promise<ContainerState> {
    const info = await this.call(() => this.docker.getContainer(id).inspect());
    const s = info.State;
    return {
      running: s.Running,
      exitCode: s.Running ? null : s.ExitCode,
      oomKilled: s.OOMKilled,
      startedAt: s.StartedAt && !s.StartedAt.startsWith('0001') ? s.StartedAt : null,
      finishedAt: s.FinishedAt && !s.FinishedAt.startsWith('0001') ? s.FinishedAt : null,
    };
  }

  async kill(id: string, signal: string): Promise<void> {
    try {
      await this.call(() => this.docker.getContainer(id).kill({ signal }));
    } catch (err) {
      // 409: not running; 404: already gone. Both mean there is nothing left to signal.
      const status = err instanceof RuntimeFailureError ? err.details.status : undefined;
      if (status === 409 || status === 404) return;
      throw err;
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.call(() => this.docker.getContainer(id).remove({ force: true, v: true }));
    } catch (err) {
      const status = err instanceof RuntimeFailureError ? err.details.status : undefined;
      // 404: already gone; 409 "removal already in progress": the engine finishes it.
      if (status === 404 || status === 409) return;
      throw err;
    }
  }

  async list(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const label = Object.entries(labels).map(([k, v]) => (v === '' ? k : `${k}=${v}`));
    const rows = await this.call(() => this.docker.listContainers({ all: true, filters: { label } }));
    return rows.map((r) => ({ id: r.Id, labels: r.Labels ?? {}, state: r.State, createdAt: new Date(r.Created * 1000) }));
  }

  /** Run one engine call, turning transport failures and engine errors into Capsule's typed errors. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (raw) {
      throw this.translate(raw as DockerodeError);
    }
  }

  private translate(err: DockerodeError): Error {
    if (err.code && UNREACHABLE_CODES.has(err.code) && err.statusCode === undefined) {
      return new EngineUnavailableError(`Docker engine not reachable at ${this.endpoint} (${err.code})`, { cause: err });
    }
    const message = err.json?.message ?? err.reason ?? err.message ?? 'unknown engine error';
    return new RuntimeFailureError(`engine error${err.statusCode ? ` ${err.statusCode}` : ''}: ${message}`, {
      cause: err,
      details: { status: err.statusCode },
    });
  }
}
