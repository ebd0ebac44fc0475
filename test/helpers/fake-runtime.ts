import { PassThrough, type Readable } from 'node:stream';
import { EngineUnavailableError, ImageMissingError, RuntimeFailureError } from '../../server/errors.js';
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
  RuntimeCall,
  VolumeSummary,
} from '../../server/runtime/container-runtime.js';
import { RequestSignal } from '../../server/runtime/request-signal.js';
import { VolumeInUseError } from '../../server/runtime/runtime-errors.js';
import { VOLUME_HELPER_PATH } from '../../server/sandbox/volumes/volume-helper.js';
import { containerOutput, newContainer, processOf, recordStdin, startHealthcheck, untilAborted, type FakeContainer } from './fake-container.js';
import { directory, FakeFilesystem, FakeTree, imageEntry } from './fake-filesystem.js';
import type { FakeScript } from './fake-launcher.js';
import { FakeNetworks } from './fake-networks.js';
import { FAKE_PROGRAMS, type FakeProgram } from './fake-programs.js';
import { FakeVolumeHelper } from './fake-volume-helper.js';

export { FakeVolumeHelper, type FakeScript };

const matches = (labels: Record<string, string>, filter: Record<string, string>) => Object.entries(filter).every(([k, v]) => (v === '' ? k in labels : labels[k] === v));
const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 };

/**
 * A ContainerRuntime for unit tests, held to test/contract/container-runtime.contract.ts. Containers run
 * capsule-launch as a script (`next`), the volume helper (FakeVolumeHelper), or a program of
 * fake-programs.ts named by argv[0]. Files and volumes live in memory. Records every call.
 */
export class FakeRuntime implements ContainerRuntime {
  readonly endpoint: string;
  readonly containers = new Map<string, FakeContainer>();
  readonly removed: string[] = [];
  readonly calls: string[] = [];
  readonly signals: Array<{ id: string; signal: string }> = [];
  readonly specs: ContainerSpec[] = [];
  next: FakeScript = {};
  /** While true every call fails as with an unreachable engine (see shutdownEngine). */
  engineDown = false;
  /** While true the engine takes requests and never answers: calls end at their request timeout or signal. */
  silent = false;
  /** Images the engine does not have (any other reference is present). */
  readonly absentImages = new Set<string>();
  readonly volumeHelper = new FakeVolumeHelper();
  /** Volume name → labels; volumeOptions: its driver options. */
  readonly volumes = new Map<string, Record<string, string>>();
  readonly volumeOptions = new Map<string, Record<string, string>>();
  /** Networks that exist without createNetwork (a networked profile's), and the ones created. */
  networks = new Set<string>();
  readonly createdNetworks = new FakeNetworks();
  /** What a container of an image runs when its spec gives no command (the image's entrypoint). */
  readonly imagePrograms = new Map<string, FakeProgram>();
  /** The OCI runtimes info() lists (an engine can gain or lose one while Capsule runs: a reload). */
  runtimes = new Set<string>(['runc']);
  private readonly volumeTrees = new Map<string, FakeTree>();
  private counter = 0;

  /** `requestTimeoutMs`: the request timeout of every call but wait (none by default). */
  constructor(private readonly options: { requestTimeoutMs?: number; endpoint?: string } = {}) {
    this.endpoint = options.endpoint ?? 'fake://';
  }

  /** Like dockerd's shutdown: SIGTERM every running container (a launcher with a job reports it), then go away. */
  shutdownEngine(): void {
    this.engineDown = true;
    for (const c of this.containers.values()) this.terminate(c, 15);
  }

  /** Like `docker stop` from another client: the engine stays up. */
  stopFromOutside(id: string): void {
    this.terminate(this.get(id), 15);
  }

  info(options?: CallOptions): Promise<EngineInfo> {
    return this.op('info', options, () => ({ version: 'fake', apiVersion: '1.41', os: 'fake', kernelVersion: 'fake', cpus: 2, memoryBytes: 1 << 30, cgroupVersion: '1', runtimes: [...this.runtimes], defaultRuntime: 'runc', endpoint: this.endpoint }));
  }
  inspectImage(ref: string, options?: CallOptions): Promise<ImageInfo | null> {
    return this.op('inspectImage', options, () => (this.absentImages.has(ref) ? null : { id: `sha256:${ref}`, tags: [ref], sizeBytes: 1, createdAt: new Date(0).toISOString(), labels: {} }));
  }
  networkExists(name: string, options?: CallOptions): Promise<boolean> {
    return this.op('networkExists', options, () => this.networks.has(name) || this.createdNetworks.byName.has(name));
  }
  createNetwork(spec: NetworkSpec, options?: CallOptions): Promise<string> {
    this.calls.push('createNetwork');
    return this.op('createNetwork', options, () => this.createdNetworks.create(spec));
  }
  removeNetwork(name: string, options?: CallOptions): Promise<void> {
    this.calls.push('removeNetwork');
    return this.op('removeNetwork', options, () => this.createdNetworks.remove(name));
  }
  connectNetwork(network: string, containerId: string, endpoint: { ipv4Address?: string } = {}, options?: CallOptions): Promise<void> {
    this.calls.push('connectNetwork');
    return this.op('connectNetwork', options, () => {
      if (this.get(containerId).spec.network === 'none') throw new RuntimeFailureError(`container ${containerId} was created with network none`);
      if (!this.createdNetworks.connect(network, containerId, endpoint.ipv4Address)) this.notFound(`network ${network} not found`);
    });
  }
  listNetworks(labels: Record<string, string>, options?: CallOptions): Promise<NetworkInfo[]> {
    return this.op('listNetworks', options, () => this.createdNetworks.list((l) => matches(l, labels)));
  }
  listImages(_prefix: string, options?: CallOptions): Promise<ImageInfo[]> {
    return this.op('listImages', options, () => []);
  }
  getArchive(id: string, path: string, options?: CallOptions): Promise<Readable> {
    return this.op('getArchive', options, () => this.get(id).fs.pack(path) ?? this.notFound(`Could not find the file ${path} in container ${id}`));
  }
  statPath(id: string, path: string, options?: CallOptions): Promise<PathStat | null> {
    return this.op('statPath', options, () => this.get(id).fs.stat(path));
  }
  createVolume(name: string, labels: Record<string, string>, driverOptions?: Record<string, string>, options?: CallOptions): Promise<void> {
    this.calls.push('createVolume');
    return this.op('createVolume', options, () => this.addVolume(name, labels, driverOptions ?? {}));
  }
  removeVolume(name: string, options?: CallOptions): Promise<void> {
    this.calls.push('removeVolume');
    return this.op('removeVolume', options, () => {
      if ([...this.containers.values()].some((c) => c.volumeNames.includes(name))) throw new VolumeInUseError(name);
      this.dropVolume(name);
    });
  }
  listVolumes(labels: Record<string, string>, options?: CallOptions): Promise<VolumeSummary[]> {
    return this.op('listVolumes', options, () =>
      [...this.volumes.entries()].filter(([, l]) => matches(l, labels)).map(([name, l]) => ({ name, labels: l, createdAt: '', options: this.volumeOptions.get(name) ?? {} })),
    );
  }
  create(spec: ContainerSpec, options?: CallOptions): Promise<string> {
    this.calls.push('create');
    return this.op('create', options, () => {
      if (this.absentImages.has(spec.image)) throw new ImageMissingError(`image ${spec.image} is not present on the engine: run \`make images\``);
      // Docker answers 400 "Unknown runtime specified <name>".
      if (spec.runtime && !this.runtimes.has(spec.runtime)) throw new RuntimeFailureError(`Unknown runtime specified ${spec.runtime}`);
      this.specs.push(spec);
      const script = this.next;
      if (script.failAt === 'create') throw new Error('fake create failure');
      const id = `fake${++this.counter}`;
      const onNetwork = spec.network !== 'none' && !this.networks.has(spec.network);
      if (onNetwork && !this.createdNetworks.connect(spec.network, id)) this.notFound(`network ${spec.network} not found`);
      const helper = spec.cmd[0] === VOLUME_HELPER_PATH ? this.volumeHelper.run(spec.cmd) : undefined;
      const program = FAKE_PROGRAMS[spec.cmd[0] ?? ''] ?? (spec.cmd.length === 0 ? this.imagePrograms.get(spec.image) : undefined);
      const { mounts, volumeNames, anonymousVolumes } = this.mount(id, spec);
      const fs = new FakeFilesystem(mounts);
      this.containers.set(id, newContainer({ id, spec, script: helper ? { exitCode: helper.code } : script, fs, volumeNames, anonymousVolumes, program, helper }));
      return id;
    });
  }
  putArchive(id: string, path: string, tar: Readable, options?: CallOptions): Promise<void> {
    this.calls.push('putArchive');
    return this.op('putArchive', options, async () => {
      const c = this.get(id);
      if (c.script.failAt === 'putArchive') throw new Error('fake putArchive failure');
      const parts: Buffer[] = [];
      for await (const chunk of tar) parts.push(chunk as Buffer);
      const bytes = Buffer.concat(parts);
      if (!(await c.fs.put(path, bytes))) this.notFound(`Could not find the file ${path} in container ${id}`);
      c.archives.push({ path, bytes: bytes.length });
    });
  }
  attach(id: string, options?: CallOptions): Promise<AttachedIo> {
    this.calls.push('attach');
    return this.op('attach', options, () => {
      const c = this.get(id);
      if (c.script.failAt === 'attach') throw new Error('fake attach failure');
      let destroyed!: () => void;
      const gone = new Promise<void>((resolve) => (destroyed = resolve));
      const ended = options?.signal ? new Promise<void>((resolve) => options.signal!.addEventListener('abort', () => resolve(), { once: true })) : gone;
      const closed = Promise.race([c.exited.then(() => undefined), gone, ended]);
      const stdin = c.spec.openStdin && !c.helper ? new PassThrough() : null;
      if (stdin) recordStdin(c, stdin);
      return { output: untilAborted(containerOutput(c), options?.signal), stdin, closed, destroy: () => destroyed() };
    });
  }
  start(id: string, options?: CallOptions): Promise<void> {
    this.calls.push('start');
    return this.op('start', options, () => {
      const c = this.get(id);
      if (c.script.failAt === 'start') throw new Error('fake start failure');
      c.running = true;
      c.startedAt = new Date().toISOString();
      c.markStarted();
      startHealthcheck(c);
      if (c.program) {
        void c.program(processOf(c)).then((code) => this.exit(c, code));
        return;
      }
      const runMs = c.script.runMs ?? 0;
      if (Number.isFinite(runMs)) void (c.waitsForJob ? c.jobArrived : Promise.resolve()).then(() => setTimeout(() => this.exit(c, c.script.exitCode ?? 0), runMs));
    });
  }
  wait(id: string, options?: CallOptions): Promise<number> {
    return this.op('wait', options, () => {
      const c = this.get(id);
      if (c.script.failAt === 'wait') throw new Error('fake wait failure');
      return c.exited;
    });
  }
  inspect(id: string, options?: CallOptions): Promise<ContainerState> {
    return this.op('inspect', options, () => {
      const c = this.get(id);
      const addresses = c.startedAt ? this.createdNetworks.addressesOf(id) : {};
      return { running: c.running, exitCode: c.exitCode, oomKilled: c.oomKilled || (c.script.oomKilled ?? false), startedAt: c.startedAt, finishedAt: c.finishedAt, health: c.health, addresses };
    });
  }
  kill(id: string, signal: string, options?: CallOptions): Promise<void> {
    return this.op('kill', options, () => {
      this.signals.push({ id, signal });
      const c = this.containers.get(id);
      if (!c || !c.running) return;
      c.terminatedBy ||= SIGNALS[signal] ?? 0;
      if (c.script.ignores?.includes(signal)) return;
      if (signal === 'SIGKILL') c.launcherReports = false;
      this.exit(c, 128 + (signal === 'SIGKILL' ? 9 : 15));
    });
  }
  remove(id: string, options?: CallOptions): Promise<void> {
    this.calls.push('remove');
    return this.op('remove', options, () => {
      const c = this.containers.get(id);
      if (!c) return;
      c.launcherReports = false;
      this.exit(c, 137);
      this.containers.delete(id);
      this.createdNetworks.leave(id);
      this.removed.push(id);
      c.anonymousVolumes.forEach((name) => this.dropVolume(name));
    });
  }
  list(labels: Record<string, string> = {}, options?: CallOptions): Promise<ContainerSummary[]> {
    return this.op('list', options, () =>
      [...this.containers.values()]
        .filter((c) => matches(c.spec.labels, labels))
        .map((c) => ({ id: c.id, labels: c.spec.labels, state: c.running ? 'running' : c.startedAt ? 'exited' : 'created', createdAt: new Date() })),
    );
  }
  /** The spec of the most recently created container. */
  lastSpec(): ContainerSpec {
    return this.specs.at(-1) ?? (() => { throw new Error('no container was created'); })();
  }

  /** Every call: the engine's availability, the caller's signal and the request timeout (none for wait). */
  private async op<T>(call: RuntimeCall, options: CallOptions | undefined, fn: () => T | Promise<T>): Promise<T> {
    const timeoutMs = call === 'wait' ? null : (this.options.requestTimeoutMs ?? null);
    using request = new RequestSignal(call, options?.signal, timeoutMs, `fake engine at ${this.endpoint}`);
    return await request.run(async () => {
      if (this.engineDown) throw new EngineUnavailableError('Docker engine not reachable at fake:// (ECONNREFUSED)');
      if (this.silent) await new Promise<never>(() => undefined);
      return fn();
    });
  }
  /** The container's volumes: a named one that does not exist is made (labelsIfCreated), an anonymous one always. */
  private mount(id: string, spec: ContainerSpec) {
    const mounts = new Map<string, FakeTree>();
    const volumeNames: string[] = [];
    const anonymousVolumes: string[] = [];
    spec.volumes.forEach((v, i) => {
      const name = v.source ?? `${id}-anonymous-${i}`;
      if (!v.source) anonymousVolumes.push(name);
      if (!this.volumes.has(name)) this.addVolume(name, v.labelsIfCreated ?? {}, v.driverOptionsIfCreated ?? {}, imageEntry(v.target));
      volumeNames.push(name);
      mounts.set(v.target, this.volumeTrees.get(name)!);
    });
    return { mounts, volumeNames, anonymousVolumes };
  }
  private addVolume(name: string, labels: Record<string, string>, driverOptions: Record<string, string>, root = directory()): void {
    this.volumes.set(name, labels);
    this.volumeOptions.set(name, driverOptions);
    if (!this.volumeTrees.has(name)) this.volumeTrees.set(name, new FakeTree(root));
  }
  private dropVolume(name: string): void {
    this.volumes.delete(name);
    this.volumeOptions.delete(name);
    this.volumeTrees.delete(name);
  }
  private terminate(c: FakeContainer, signo: number): void {
    if (!c.running) return;
    c.terminatedBy ||= signo;
    // A warm launcher still waiting for its job dies at once: no frames.
    if (c.waitsForJob && c.stdinData.length === 0) c.launcherReports = false;
    this.exit(c, 128 + signo);
  }
  private exit(c: FakeContainer, code: number): void {
    if (!c.running && c.exitCode !== null) return;
    c.running = false;
    c.exitCode ??= code;
    c.finishedAt ??= new Date().toISOString();
    c.attachments.splice(0).forEach((channel) => channel.end());
    c.finish?.(c.exitCode);
  }
  private get(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) this.notFound(`No such container: ${id}`);
    return c;
  }
  /** What the Docker runtime's translation makes of the engine's 404. */
  private notFound(message: string): never {
    throw new RuntimeFailureError(`engine error 404: ${message}`, { details: { status: 404 } });
  }
}
