import { PassThrough, type Readable } from 'node:stream';
import { EngineUnavailableError } from '../../server/errors.js';
import type {
  AttachedIo,
  ContainerRuntime,
  ContainerSpec,
  ContainerState,
  ContainerSummary,
  EngineInfo,
  ImageInfo,
  OutputChunk,
  PathStat,
  VolumeSummary,
} from '../../server/runtime/container-runtime.js';

/**
 * The fake engine's side of capsule-volume (images/sandbox/capsule-volume): subvolumes in a map.
 * `enforced: false` answers the probe as a host without a btrfs root (the fallback).
 */
export class FakeVolumeHelper {
  enforced = false;
  readonly subvolumes = new Map<string, { limit: number; bytes: number; files: number }>();
  readonly commands: string[][] = [];
  /** Make the next command of this name fail (exit 1). */
  failNext: string | null = null;

  run(argv: string[]): { stdout: string; code: number } {
    const [, command, instance, ...args] = argv;
    this.commands.push([command!, ...args]);
    if (this.failNext === command) {
      this.failNext = null;
      return { stdout: '', code: 1 };
    }
    const key = (name: string) => `${instance}/${name}`;
    switch (command) {
      case 'probe':
        return { stdout: this.enforced ? 'fstype btrfs\nquota_mode squota\nnested_bounded yes\n' : 'fstype overlayfs\n', code: 0 };
      case 'create':
        for (let i = 0; i < args.length; i += 2) this.subvolumes.set(key(args[i]!), { limit: Number(args[i + 1]), bytes: 16384, files: 0 });
        return { stdout: args.filter((_, i) => i % 2 === 0).map((n, i) => `${n} ${256 + i}\n`).join(''), code: 0 };
      case 'usage':
        return { stdout: args.map((n) => { const v = this.subvolumes.get(key(n)); return v ? `${n} ${v.bytes} ${v.files}\n` : `${n} missing\n`; }).join(''), code: 0 };
      case 'delete':
        args.forEach((n) => this.subvolumes.delete(key(n)));
        return { stdout: args.map((n) => `${n} deleted\n`).join(''), code: 0 };
      case 'list':
        return { stdout: [...this.subvolumes.keys()].filter((k) => k.startsWith(`${instance}/`)).map((k) => `${k.slice(instance!.length + 1)}\n`).join(''), code: 0 };
      default:
        return { stdout: '', code: 2 };
    }
  }
}

/** How a fake container behaves once started. */
export interface FakeScript {
  output?: OutputChunk[];
  /** Delay before the process "exits" by itself (ms); Infinity = never (only a kill ends it). */
  runMs?: number;
  exitCode?: number;
  oomKilled?: boolean;
  /** Make a step throw. */
  failAt?: 'create' | 'putArchive' | 'attach' | 'start' | 'wait' | 'output';
  /** A signal the process ignores (SIGTERM-ignoring programs). */
  ignores?: string[];
}

function launcherFrame(type: number, data: Buffer | string): OutputChunk {
  const payload = Buffer.from(data);
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(payload.length, 4);
  return { stream: 'stdout', data: Buffer.concat([header, payload]) };
}

interface FakeContainer {
  id: string;
  /** False when the launcher was killed with the container (SIGKILL): no exit frame then. */
  launcherReports: boolean;
  /** The first termination signal the launcher got (its exit frame's terminated_by). */
  terminatedBy: number;
  /** A warm container (--wait-job): its program starts when the job arrives on stdin. */
  waitsForJob: boolean;
  jobArrived: Promise<void>;
  jobReceived?: () => void;
  spec: ContainerSpec;
  script: FakeScript;
  running: boolean;
  exitCode: number | null;
  finish?: (code: number) => void;
  exited: Promise<number>;
  stdinData: Buffer[];
  archives: { path: string; bytes: number }[];
  /** A volume helper's answer (its stdout is raw, not launcher frames). */
  helper?: { stdout: string; code: number };
}

/** A scripted ContainerRuntime for unit tests of lifecycle logic. Records every call. */
export class FakeRuntime implements ContainerRuntime {
  readonly endpoint = 'fake://';
  readonly containers = new Map<string, FakeContainer>();
  readonly removed: string[] = [];
  readonly calls: string[] = [];
  readonly signals: Array<{ id: string; signal: string }> = [];
  readonly specs: ContainerSpec[] = [];
  next: FakeScript = {};
  /** While true every call fails as with an unreachable engine (see shutdownEngine). */
  engineDown = false;
  readonly volumeHelper = new FakeVolumeHelper();
  private counter = 0;

  /** Like dockerd's shutdown: SIGTERM every running container (a launcher with a job reports it), then go away. */
  shutdownEngine(): void {
    this.engineDown = true;
    for (const c of this.containers.values()) this.terminate(c, 15);
  }

  /** Like `docker stop` from another client: the engine stays up. */
  stopFromOutside(id: string): void {
    this.terminate(this.get(id), 15);
  }

  async info(): Promise<EngineInfo> {
    this.guard();
    return { version: 'fake', apiVersion: '1.41', os: 'fake', kernelVersion: 'fake', cpus: 2, memoryBytes: 1 << 30, cgroupVersion: '1', runtimes: ['runc'], endpoint: this.endpoint };
  }
  async inspectImage(ref: string): Promise<ImageInfo | null> {
    this.guard();
    return { id: `sha256:${ref}`, tags: [ref], sizeBytes: 1, createdAt: new Date(0).toISOString(), labels: {} };
  }
  readonly volumes = new Map<string, Record<string, string>>();
  readonly volumeOptions = new Map<string, Record<string, string>>();
  async getArchive(): Promise<Readable> {
    const { pack } = await import('tar-stream');
    const archive = pack();
    archive.finalize();
    return PassThrough.from(archive as unknown as AsyncIterable<Buffer>);
  }
  async statPath(): Promise<PathStat | null> {
    return null;
  }
  async createVolume(name: string, labels: Record<string, string>, driverOptions?: Record<string, string>): Promise<void> {
    this.calls.push('createVolume');
    this.volumes.set(name, labels);
    this.volumeOptions.set(name, driverOptions ?? {});
  }
  async removeVolume(name: string): Promise<void> {
    this.calls.push('removeVolume');
    this.volumes.delete(name);
    this.volumeOptions.delete(name);
  }
  async listVolumes(labels: Record<string, string>): Promise<VolumeSummary[]> {
    return [...this.volumes.entries()]
      .filter(([, l]) => Object.entries(labels).every(([k, v]) => (v === '' ? k in l : l[k] === v)))
      .map(([name, l]) => ({ name, labels: l, createdAt: '', options: this.volumeOptions.get(name) ?? {} }));
  }
  networks = new Set<string>();
  async networkExists(name: string): Promise<boolean> {
    return this.networks.has(name);
  }
  async listImages(): Promise<ImageInfo[]> {
    return [];
  }
  async create(spec: ContainerSpec): Promise<string> {
    this.calls.push('create');
    this.guard();
    this.specs.push(spec);
    const script = this.next;
    if (script.failAt === 'create') throw new Error('fake create failure');
    const id = `fake${++this.counter}`;
    let finish!: (code: number) => void;
    const exited = new Promise<number>((resolve) => (finish = resolve));
    let jobReceived!: () => void;
    const jobArrived = new Promise<void>((resolve) => (jobReceived = resolve));
    const waitsForJob = spec.cmd.includes('--wait-job');
    const helper = spec.labels['capsule.kind'] === 'volume-helper' ? this.volumeHelper.run(spec.cmd) : undefined;
    this.containers.set(id, {
      id, spec, script: helper ? { exitCode: helper.code } : script, running: false, exitCode: null, finish, exited, stdinData: [], archives: [],
      launcherReports: true, terminatedBy: 0, waitsForJob, jobArrived, jobReceived, ...(helper ? { helper } : {}),
    });
    return id;
  }
  async putArchive(id: string, path: string, tar: Readable): Promise<void> {
    this.calls.push('putArchive');
    this.guard();
    const c = this.get(id);
    if (c.script.failAt === 'putArchive') throw new Error('fake putArchive failure');
    let bytes = 0;
    for await (const chunk of tar) bytes += (chunk as Buffer).length;
    c.archives.push({ path, bytes });
  }
  async attach(id: string): Promise<AttachedIo> {
    this.calls.push('attach');
    this.guard();
    const c = this.get(id);
    if (c.script.failAt === 'attach') throw new Error('fake attach failure');
    if (c.helper) {
      const { stdout } = c.helper;
      async function* raw(): AsyncGenerator<OutputChunk> {
        if (stdout) yield { stream: 'stdout', data: Buffer.from(stdout) };
        await c.exited;
      }
      return { output: raw(), stdin: null, destroy: () => undefined, closed: c.exited.then(() => undefined) };
    }
    const stdin = c.spec.openStdin ? new PassThrough() : null;
    stdin?.on('data', (d: Buffer) => {
      c.stdinData.push(d);
      if (c.running) c.jobReceived?.(); // a dead launcher reads no job
    });
    // The real container's stdout carries capsule-launch frames; the fake speaks the same protocol.
    async function* output(): AsyncGenerator<OutputChunk> {
      // A warm launcher that dies before its job (engine shutdown, removal) writes no frame at all.
      if (c.waitsForJob && (await Promise.race([c.jobArrived.then(() => true), c.exited.then(() => false)])) === false) return;
      yield launcherFrame(5, '{"pid":2}');
      for (const chunk of c.script.output ?? []) {
        await new Promise((r) => setImmediate(r));
        yield launcherFrame(chunk.stream === 'stdout' ? 1 : 2, chunk.data);
      }
      if (c.script.failAt === 'output') throw new Error('fake connection reset');
      const code = await c.exited;
      if (c.launcherReports) {
        yield launcherFrame(3, JSON.stringify({ final: true, elapsed_ms: 5, cpu_ns: 2e6, memory_bytes: 1024, memory_peak_bytes: 4096, pids: 1, pids_peak: 3, blkio_read_bytes: 0, blkio_write_bytes: 0, oom_kills: c.script.oomKilled ? 1 : 0, samples: [[0, 0, 1024], [100, 2e6, 4096]] }));
        yield launcherFrame(4, JSON.stringify({ exit_code: code, signal: code > 128 ? code - 128 : 0, oom_kills: c.script.oomKilled ? 1 : 0, elapsed_ms: 5, terminated_by: c.terminatedBy }));
      }
    }
    let destroyed!: () => void;
    const closed = Promise.race([c.exited.then(() => undefined), new Promise<void>((resolve) => (destroyed = resolve))]);
    return { output: output(), stdin, closed, destroy: () => destroyed() };
  }
  async start(id: string): Promise<void> {
    this.calls.push('start');
    this.guard();
    const c = this.get(id);
    if (c.script.failAt === 'start') throw new Error('fake start failure');
    c.running = true;
    const runMs = c.script.runMs ?? 0;
    if (Number.isFinite(runMs)) void (c.waitsForJob ? c.jobArrived : Promise.resolve()).then(() => setTimeout(() => this.exit(c, c.script.exitCode ?? 0), runMs));
  }
  async wait(id: string): Promise<number> {
    this.guard();
    const c = this.get(id);
    if (c.script.failAt === 'wait') throw new Error('fake wait failure');
    return c.exited;
  }
  async inspect(id: string): Promise<ContainerState> {
    this.guard();
    const c = this.get(id);
    return { running: c.running, exitCode: c.exitCode, oomKilled: c.script.oomKilled ?? false, startedAt: null, finishedAt: null };
  }
  async kill(id: string, signal: string): Promise<void> {
    this.guard();
    this.signals.push({ id, signal });
    const c = this.containers.get(id);
    if (!c || !c.running) return;
    c.terminatedBy ||= ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0;
    if (c.script.ignores?.includes(signal)) return;
    if (signal === 'SIGKILL') c.launcherReports = false;
    this.exit(c, 128 + (signal === 'SIGKILL' ? 9 : 15));
  }
  async remove(id: string): Promise<void> {
    this.calls.push('remove');
    this.guard();
    const c = this.containers.get(id);
    if (c) {
      c.launcherReports = false;
      this.exit(c, 137);
      this.containers.delete(id);
      this.removed.push(id);
    }
  }
  async list(labels: Record<string, string> = {}): Promise<ContainerSummary[]> {
    this.guard();
    const match = (c: FakeContainer) => Object.entries(labels).every(([k, v]) => (v === '' ? k in c.spec.labels : c.spec.labels[k] === v));
    return [...this.containers.values()].filter(match).map((c) => ({ id: c.id, labels: c.spec.labels, state: c.running ? 'running' : 'created', createdAt: new Date() }));
  }
  /** The spec of the most recently created container. */
  lastSpec(): ContainerSpec {
    const spec = this.specs.at(-1);
    if (!spec) throw new Error('no container was created');
    return spec;
  }
  private terminate(c: FakeContainer, signo: number): void {
    if (!c.running) return;
    c.terminatedBy ||= signo;
    // A warm launcher still waiting for its job dies at once: no frames.
    if (c.waitsForJob && c.stdinData.length === 0) c.launcherReports = false;
    this.exit(c, 128 + signo);
  }
  private guard(): void {
    if (this.engineDown) throw new EngineUnavailableError('Docker engine not reachable at fake:// (ECONNREFUSED)');
  }
  private exit(c: FakeContainer, code: number): void {
    if (!c.running && c.exitCode !== null) return;
    c.running = false;
    c.exitCode ??= code;
    c.finish?.(c.exitCode);
  }
  private get(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new Error(`no such fake container ${id}`);
    return c;
  }
}
