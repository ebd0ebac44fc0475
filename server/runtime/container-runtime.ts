import type { Readable, Writable } from 'node:stream';
import type { LinuxCapability } from './capabilities.js';
import type { NetworkInfo, NetworkSpec } from './network-types.js';

/**
 * The narrow interface Capsule needs from a container engine. Only runtime/ implements it (Docker via
 * dockerode, in runtime/docker/); unit tests use a fake. No engine-specific type crosses this boundary.
 * test/contract/container-runtime.contract.ts holds every implementation to the behaviour described here.
 *
 * Errors an implementation throws: EngineUnavailableError (engine not reachable, or a request it did not
 * answer within the implementation's request timeout, naming the call), ImageMissingError (create with
 * an image the engine does not have), VolumeInUseError, NetworkInUseError and NetworkConflictError
 * (runtime-errors.ts), RuntimeFailureError for
 * anything else, and the abort reason itself for a call whose `signal` was aborted. Policy (what to tell
 * a client, whether to retry) is the caller's.
 */

export type { LinuxCapability } from './capabilities.js';
export type { NetworkInfo, NetworkSpec } from './network-types.js';

/** What every call takes last. */
export interface CallOptions {
  /**
   * The caller's cancellation: aborting it fails a pending call with `signal.reason` and drops its
   * request. An engine may already have acted on it (an aborted create can leave a container behind;
   * it carries its labels, so the reaper finds it). For attach and getArchive it also ends the stream.
   * Separate from the implementation's request timeout, and never a command's wall time.
   */
  signal?: AbortSignal;
}

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

/** A tmpfs mount. Always writable, nosuid, nodev and noexec; its contents go with the container's stop. */
export interface TmpfsMount {
  sizeBytes: number;
  /** Permission bits of its root (e.g. 0o1777). */
  mode: number;
  /** Owner of its root (root when omitted). */
  uid?: number;
  gid?: number;
}

/** A check run in the container every intervalMs from one interval after the start (ContainerState.health). */
export interface Healthcheck {
  /** The argv to run (no shell); exit 0 means healthy. */
  argv: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number; // failures in a row that make it unhealthy
  startPeriodMs: number; // failures in this window after the start do not count
}

/** Everything needed to create one sandbox container. */
export interface ContainerSpec {
  image: string;
  cmd: string[];
  user: string;
  workdir: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  /** Stdin open for one attach: the program reads EOF when that attach's stdin ends. */
  openStdin: boolean;
  /** The most memory the container may use, swap included (there is no swap beyond it). */
  memoryBytes: number;
  nanoCpus: number;
  pidsLimit: number;
  ulimits: Ulimit[];
  /** Mount path → tmpfs mount. */
  tmpfs: Record<string, TmpfsMount>;
  volumes: VolumeMount[];
  /** Host paths bound in (only Capsule's own helpers use them; never a sandbox). */
  binds?: BindMount[];
  /** 'none' or the name of a network. */
  network: string;
  /** Nameservers the engine's resolver forwards names it does not know to (Docker's --dns). */
  dns?: string[];
  /** resolv.conf options (e.g. `timeout:1`, `attempts:1`): how long a name lookup may wait for an answer. */
  dnsOptions?: string[];
  /** A health check the engine runs (only Capsule's egress proxy has one); the image's own otherwise. */
  healthcheck?: Healthcheck;
  readOnlyRootfs: boolean;
  /** Capabilities removed from the engine's default set ('ALL': every one). */
  capDrop: Array<LinuxCapability | 'ALL'>;
  /** Capabilities added back after capDrop (only Capsule's volume helper has any). */
  capAdd?: LinuxCapability[];
  /** Set no_new_privs: setuid binaries and file capabilities grant nothing. */
  noNewPrivileges: boolean;
  /** A seccomp profile (the engine's JSON format); the engine's default profile when omitted. */
  seccompProfile?: string;
  /** Run an init process as PID 1 that reaps zombies and forwards signals to the program. */
  init: boolean;
  /** OCI runtime name (e.g. runsc); engine default when omitted. */
  runtime?: string;
}

/** The streams of an attached container. `stdin` is null unless the container was created with openStdin. */
export interface AttachedIo {
  /** Everything the program writes after the attach, in order, each chunk tagged with its stream. */
  output: AsyncIterable<OutputChunk>;
  /** Ending it is EOF for the program. */
  stdin: Writable | null;
  /**
   * Resolves once the connection has ended or failed (the container stopped, was removed, or the engine
   * went away). Never rejects. Output is backpressured: a container that wrote output nobody read is
   * seen to end once `output` is read; one that wrote nothing is seen to end without reading.
   */
  closed: Promise<void>;
  /** Drop the connection (used when the run is abandoned). */
  destroy(): void;
}

export interface ContainerState {
  running: boolean;
  /** Null until the container has run and stopped. */
  exitCode: number | null;
  /**
   * The engine recorded that the kernel killed it for going past memoryBytes. Best effort: an engine can
   * lose the record (Docker 20.10 here: 9 of 352 OOM kills read false, exit code 137), so false does not
   * rule out an OOM kill; the launcher's own cgroup count is the reliable one.
   */
  oomKilled: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  /** The verdict of its health check ('starting' until the first one); null when it has none. */
  health: 'starting' | 'healthy' | 'unhealthy' | null;
  /** Network name → its IPv4 address there, for the networks it is on (addresses are given at start). */
  addresses: Record<string, string>;
}

export interface ContainerSummary {
  id: string;
  labels: Record<string, string>;
  /** 'created', 'running', 'exited', or another state the engine names. */
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
  /** OCI runtimes the engine offers (e.g. runc, runsc); a container may name any of them. */
  runtimes: string[];
  /** The one a container runs under when it names none. */
  defaultRuntime: string;
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
  info(options?: CallOptions): Promise<EngineInfo>;
  /** The image's facts, or null when it is not present locally. */
  inspectImage(ref: string, options?: CallOptions): Promise<ImageInfo | null>;
  /** True when a network with this name exists on the engine. */
  networkExists(name: string, options?: CallOptions): Promise<boolean>;
  /** Local images whose repository name starts with `prefix`. */
  listImages(prefix: string, options?: CallOptions): Promise<ImageInfo[]>;
  /**
   * Create (never start) a container; returns its id. Its anonymous volumes exist from now on; a named
   * volume it mounts that does not exist is created (with the mount's labelsIfCreated).
   */
  create(spec: ContainerSpec, options?: CallOptions): Promise<string>;
  /**
   * Extract a tar stream at `path` inside the container (works before start on volume mounts).
   * Files get the mode, uid and gid of their tar headers.
   */
  putArchive(id: string, path: string, tar: Readable, options?: CallOptions): Promise<void>;
  /**
   * A tar stream of `path` inside the container, its entries named from the path's last component
   * (works on stopped and never-started containers).
   */
  getArchive(id: string, path: string, options?: CallOptions): Promise<Readable>;
  /** Stat a path inside the container without following a final symlink; null when it does not exist. */
  statPath(id: string, path: string, options?: CallOptions): Promise<PathStat | null>;
  /** Create a named volume (local driver) with labels and, optionally, driver options (e.g. a bind of a host path). */
  createVolume(name: string, labels: Record<string, string>, driverOptions?: Record<string, string>, options?: CallOptions): Promise<void>;
  /** Remove a named volume; a missing one is not an error; one a container mounts is VolumeInUseError. */
  removeVolume(name: string, options?: CallOptions): Promise<void>;
  /** Volumes carrying every given label (value '' matches any value). */
  listVolumes(labels: Record<string, string>, options?: CallOptions): Promise<VolumeSummary[]>;
  /**
   * Create a network; returns its id. A name, subnet or bridge name another network has is
   * NetworkConflictError (runtime-errors.ts) saying which.
   */
  createNetwork(spec: NetworkSpec, options?: CallOptions): Promise<string>;
  /** Remove a network; a missing one is not an error; one a container is connected to is NetworkInUseError. */
  removeNetwork(name: string, options?: CallOptions): Promise<void>;
  /**
   * Connect a container (created or running) to another network, at `ipv4Address` when given (inside
   * the subnet, outside ipRange). It must have been created on a network, not 'none'.
   */
  connectNetwork(network: string, containerId: string, endpoint?: { ipv4Address?: string }, options?: CallOptions): Promise<void>;
  /** Networks carrying every given label (value '' matches any value). */
  listNetworks(labels: Record<string, string>, options?: CallOptions): Promise<NetworkInfo[]>;
  /** Attach to stdout/stderr (and stdin when opened); call before start so no output is missed. */
  attach(id: string, options?: CallOptions): Promise<AttachedIo>;
  start(id: string, options?: CallOptions): Promise<void>;
  /** Resolve with the exit code once the container has stopped (no request timeout: it lasts as long as the container). */
  wait(id: string, options?: CallOptions): Promise<number>;
  inspect(id: string, options?: CallOptions): Promise<ContainerState>;
  /** Send a signal; a container that is not running (never started, stopped, gone) is not an error. */
  kill(id: string, signal: string, options?: CallOptions): Promise<void>;
  /** Remove the container and its anonymous volumes, forcing if running; a missing container is not an error. */
  remove(id: string, options?: CallOptions): Promise<void>;
  /** Containers (any state) carrying every given label (value '' matches any value). */
  list(labels: Record<string, string>, options?: CallOptions): Promise<ContainerSummary[]>;
}

/** The name of a runtime call, as errors and request timeouts name it. */
export type RuntimeCall = Exclude<keyof ContainerRuntime, 'endpoint'>;
