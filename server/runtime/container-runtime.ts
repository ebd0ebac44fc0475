import type { Readable, Writable } from 'node:stream';

/**
 * The narrow interface Capsule needs from a container engine. Only runtime/ implements it (Docker via
 * dockerode); unit tests use a fake. No engine-specific type crosses this boundary.
 */

export type OutputStream = 'stdout' | 'stderr';

/** One piece of a container's output, tagged with the stream it came from. */
export interface OutputChunk {
  stream: OutputStream;
  data: Buffer;
}

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

export interface VolumeMount {
  /** Path inside the container. */
  target: string;
  /** Named volume; omitted for an anonymous volume removed with the container. */
  source?: string;
  readOnly: boolean;
  /**
   * Labels for the volume if this mount creates it: the engine silently creates a missing named volume,
   * e.g. a workspace deleted between the check and the mount. Ignored when the volume exists.
   */
  labelsIfCreated?: Record<string, string>;
  /** Driver options for the volume if this mount creates it (a bind of its quota'd subvolume, so it stays bounded). */
  driverOptionsIfCreated?: Record<string, string>;
}

/** A host path (as the engine sees it) bound into the container; a missing source is an error, never created. */
export interface BindMount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Everything needed to create one sandbox container. */
export interface ContainerSpec {
  image: string;
  cmd: string[];
  user: string;
  workdir: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  openStdin: boolean;
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
  ulimits: Ulimit[];
  /** Mount path → tmpfs mount options (e.g. "rw,nosuid,size=64m"). */
  tmpfs: Record<string, string>;
  volumes: VolumeMount[];
  /** Host paths bound in (only Capsule's own helpers use them; never a sandbox). */
  binds?: BindMount[];
  /** 'none' or the name of a network. */
  network: string;
  readOnlyRootfs: boolean;
  capDrop: string[];
  /** Capabilities added back after capDrop (only Capsule's volume helper has any). */
  capAdd?: string[];
  securityOpt: string[];
  init: boolean;
  /** OCI runtime name (e.g. runsc); engine default when omitted. */
  runtime?: string;
}

/** The streams of an attached container. `stdin` is null unless the container was created with openStdin. */
export interface AttachedIo {
  output: AsyncIterable<OutputChunk>;
  stdin: Writable | null;
  /**
   * Resolves once the connection has ended or failed (the container stopped, was removed, or the engine
   * went away), whether or not `output` is being read. Never rejects.
   */
  closed: Promise<void>;
  /** Drop the connection (used when the run is abandoned). */
  destroy(): void;
}

export interface ContainerState {
  running: boolean;
  exitCode: number | null;
  oomKilled: boolean;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface ContainerSummary {
  id: string;
  labels: Record<string, string>;
  state: string;
  createdAt: Date;
}

export interface EngineInfo {
  version: string;
  apiVersion: string;
  os: string;
  kernelVersion: string;
  cpus: number;
  memoryBytes: number;
  cgroupVersion: string;
  runtimes: string[];
  endpoint: string;
}

export interface ImageInfo {
  id: string;
  tags: string[];
  sizeBytes: number;
  createdAt: string;
  labels: Record<string, string>;
  /** The image's default environment ("NAME=value"); present from inspectImage. */
  env?: string[];
}

/** What the engine reports about a path inside a container (symlinks not followed for the last component). */
export interface PathStat {
  name: string;
  size: number;
  /** Permission bits (0o777). */
  mode: number;
  mtime: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  /** For symlinks: the target, as the engine resolves it inside the container. */
  linkTarget: string;
}

export interface VolumeSummary {
  name: string;
  labels: Record<string, string>;
  createdAt: string;
  /** The driver's options (e.g. type, o, device of a bind volume). */
  options: Record<string, string>;
}

export interface ContainerRuntime {
  /** Where the engine is reached, for error messages (e.g. unix:///var/run/docker.sock). */
  readonly endpoint: string;
  info(): Promise<EngineInfo>;
  /** The image's facts, or null when it is not present locally. */
  inspectImage(ref: string): Promise<ImageInfo | null>;
  /** True when a network with this name exists on the engine. */
  networkExists(name: string): Promise<boolean>;
  /** Local images whose repository name starts with `prefix`. */
  listImages(prefix: string): Promise<ImageInfo[]>;
  /** Create (never start) a container; returns its id. */
  create(spec: ContainerSpec): Promise<string>;
  /**
   * Extract a tar stream at `path` inside the container (works before start on volume mounts).
   * Files get the uid/gid of their tar headers.
   */
  putArchive(id: string, path: string, tar: Readable): Promise<void>;
  /** A tar stream of `path` inside the container (works on stopped and never-started containers). */
  getArchive(id: string, path: string): Promise<Readable>;
  /** Stat a path inside the container without following a final symlink; null when it does not exist. */
  statPath(id: string, path: string): Promise<PathStat | null>;
  /** Create a named volume (local driver) with labels and, optionally, driver options (e.g. a bind of a host path). */
  createVolume(name: string, labels: Record<string, string>, driverOptions?: Record<string, string>): Promise<void>;
  /** Remove a named volume; a missing one is not an error; one in use is BusyError. */
  removeVolume(name: string): Promise<void>;
  /** Volumes carrying every given label. */
  listVolumes(labels: Record<string, string>): Promise<VolumeSummary[]>;
  /** Attach to stdout/stderr (and stdin when opened); call before start so no output is missed. */
  attach(id: string): Promise<AttachedIo>;
  start(id: string): Promise<void>;
  /** Resolve with the exit code once the container has stopped. */
  wait(id: string): Promise<number>;
  inspect(id: string): Promise<ContainerState>;
  /** Send a signal; a container that is no longer running is not an error. */
  kill(id: string, signal: string): Promise<void>;
  /** Remove the container and its anonymous volumes, forcing if running; a missing container is not an error. */
  remove(id: string): Promise<void>;
  /** Containers (any state) carrying every given label (value '' matches any value). */
  list(labels: Record<string, string>): Promise<ContainerSummary[]>;
}
