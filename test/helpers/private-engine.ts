/**
 * A private Docker engine for tests that stop, kill or restart an engine: the main dockerd is shared
 * with every other test and must never be stopped. Each private engine is its own `dockerd` (which
 * supervises its own containerd under its exec-root), reached at unix:///var/run/docker-<name>.sock.
 *
 *   data root  /var/lib/capsule-test-engines/<name>   KEPT between runs (images stay loaded, so a
 *                                                      second run skips the ~12 s image load)
 *   exec root  /var/run/capsule-test-engines/<name>   containerd socket, runc state, netns
 *   pid file   /var/run/capsule-test-engines/<name>.pid
 *   log        /var/run/capsule-test-engines/<name>.log
 *
 * Two engines never collide: each containerd gets its own root, state dir and socket (dockerd writes
 * them under its data and exec roots), runc its own --root, and shims are keyed by the containerd address.
 * An engine may get its own host name (a UTS namespace of its own: Swarm names a node after it) and
 * extra dockerd flags (a TLS listener on a loopback address: test/helpers/engines.ts). A swarm left in a
 * kept data root by an earlier run is forgotten at start, so an engine never rejoins an old swarm.
 *
 * An engine never outlives the test process: an exit hook SIGTERMs it, and a detached watchdog does the
 * same within a second when the process dies without exit hooks (SIGKILL, ava's timeout SIGTERM).
 * By hand:
 *   npx tsx test/helpers/private-engine.ts stop-all          stop every private engine (by pid file)
 *   npx tsx test/helpers/private-engine.ts remove-data NAME  stop NAME and delete its data root
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { DockerRuntime } from '../../server/runtime/docker/docker-runtime.js';
import { DEFAULT_SANDBOX_IMAGE } from '../../server/version.js';
import { imageId, saveAndLoad } from './image-transfer.js';

export const DATA_BASE = '/var/lib/capsule-test-engines';
export const RUN_BASE = '/var/run/capsule-test-engines';

export interface PrivateEngine {
  readonly name: string;
  /** For DOCKER_HOST: unix:///var/run/docker-<name>.sock */
  readonly host: string;
  readonly dataRoot: string;
  /** A runtime talking to this engine. */
  readonly runtime: DockerRuntime;
  /** How long the last start took until the engine answered, and the image load (0 when skipped). */
  readonly timings: { startMs: number; loadMs: number };
  /** The dockerd pid while it runs. */
  pid(): number | null;
  /** Start dockerd again (after stop or kill); resolves when it answers. */
  start(): Promise<void>;
  /** SIGTERM to dockerd, as a real shutdown (it stops its containers); resolves when it has exited. */
  stop(): Promise<void>;
  /** SIGKILL to dockerd (its containerd dies with it; container shims live on until the next start). */
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface EngineOptions {
  /** The engine's host name (its own UTS namespace); Swarm names the node after it. */
  hostname?: string;
  /** More dockerd flags, e.g. a TLS listener: ['-H', 'tcp://127.0.0.2:2376', '--tlsverify', ...]. */
  dockerdArgs?: string[];
}

const running = new Map<string, { pid: number; socket: string }>();
let exitHookInstalled = false;

/** True while `pid` runs (a zombie does not: pid 1 here may take a while to reap one). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** True when `pid` is a dockerd serving `socket` (a pid file may name a recycled pid). */
function isOurDockerd(pid: number, socket: string): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline[0]?.endsWith('dockerd') === true && cmdline.includes(`unix://${socket}`) && alive(pid);
  } catch {
    return false;
  }
}

function pidFromFile(pidFile: string): number | null {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function waitGone(pid: number, child: ChildProcess | null, ms: number): Promise<void> {
  const end = Date.now() + ms;
  if (child && child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  if (alive(pid)) throw new Error(`process ${pid} did not exit within ${ms} ms`);
}

/** Mount points at or under `dir` (/proc/mounts names /var/run/... as /run/...). */
function mountsUnder(dir: string): string[] {
  const real = existsSync(dir) ? realpathSync(dir) : dir;
  const points = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '');
  return points.filter((m) => m === real || m.startsWith(`${real}/`));
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const { pid, socket } of running.values()) if (isOurDockerd(pid, socket)) process.kill(pid, 'SIGTERM');
  });
}

// Polls the test process; when it is gone, SIGTERMs the engine (if the pid is still that dockerd).
const WATCHDOG = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
if tr '\\0' ' ' < "/proc/$2/cmdline" 2>/dev/null | grep -qF -- "unix://$3"; then kill -TERM "$2"; fi`;

class Engine implements PrivateEngine {
  readonly host: string;
  readonly dataRoot: string;
  readonly runtime: DockerRuntime;
  readonly timings = { startMs: 0, loadMs: 0 };
  private readonly socket: string;
  private readonly execRoot: string;
  private readonly pidFile: string;
  private readonly logFile: string;
  private readonly containerdPidFile: string;
  private child: ChildProcess | null = null;
  private watchdog: ChildProcess | null = null;

  constructor(
    readonly name: string,
    private readonly options: EngineOptions = {},
  ) {
    this.socket = `/var/run/docker-${name}.sock`;
    this.host = `unix://${this.socket}`;
    this.dataRoot = join(DATA_BASE, name);
    this.execRoot = join(RUN_BASE, name);
    this.pidFile = join(RUN_BASE, `${name}.pid`);
    this.logFile = join(RUN_BASE, `${name}.log`);
    this.containerdPidFile = join(this.execRoot, 'containerd', 'containerd.pid');
    this.runtime = new DockerRuntime({ dockerHost: this.host });
  }

  pid(): number | null {
    const pid = pidFromFile(this.pidFile);
    return pid !== null && isOurDockerd(pid, this.socket) ? pid : null;
  }

  async start(): Promise<void> {
    if (this.pid() !== null) return;
    // dockerd reuses a containerd whose pid file names a live pid, and a dead one left as a zombie
    // still answers kill(0): it then waits 60 s for a containerd that never comes.
    const containerdPid = pidFromFile(this.containerdPidFile);
    if (containerdPid !== null && !alive(containerdPid)) rmSync(this.containerdPidFile, { force: true });
    mkdirSync(this.dataRoot, { recursive: true });
    mkdirSync(this.execRoot, { recursive: true });
    const log = openSync(this.logFile, 'a');
    const began = performance.now();
    const args = [
      `--data-root=${this.dataRoot}`,
      `--exec-root=${this.execRoot}`,
      `--pidfile=${this.pidFile}`,
      `-H`,
      this.host,
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
      // crun fails on this cgroup v1 host; the main engine uses runc too.
      '--default-runtime=runc',
      ...(this.options.dockerdArgs ?? []),
    ];
    // unshare execs sh, which execs dockerd: the child's pid stays dockerd's.
    const [command, argv] = this.options.hostname
      ? ['unshare', ['--uts', '--', 'sh', '-c', 'hostname "$0" && exec dockerd "$@"', this.options.hostname, ...args]]
      : ['dockerd', args];
    // detached: its own process group, so a Ctrl-C to the test does not race the exit hook.
    const child = spawn(command, argv, { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    this.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => reject(new Error(`dockerd ${this.name} exited (${code ?? signal}) while starting:\n${this.logTail()}`))),
    );
    exited.catch(() => undefined);
    const end = Date.now() + 30_000;
    for (;;) {
      const up = await Promise.race([this.runtime.info().then(() => true, () => false), exited]);
      if (up) break;
      if (Date.now() > end) throw new Error(`dockerd ${this.name} did not answer in 30 s:\n${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    this.timings.startMs = Math.round(performance.now() - began);
    running.set(this.name, { pid: child.pid!, socket: this.socket });
    installExitHook();
    this.watchdog = spawn('sh', ['-c', WATCHDOG, 'capsule-engine-watchdog', String(process.pid), String(child.pid), this.socket], { detached: true, stdio: 'ignore' });
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    await this.signal('SIGTERM', 60_000);
    // dockerd leaves the network namespaces of its host sandbox (any host-network container) and of a
    // swarm's ingress mounted under its exec root; nothing runs in them once it has stopped its containers.
    for (const netns of mountsUnder(join(this.execRoot, 'netns'))) await promisify(execFile)('umount', [netns]);
    // dockerd bind-mounts its data root onto itself (to make it shared) and undoes that when it shuts
    // down cleanly, but not after a SIGKILL, and a later start keeps the leftover for good: undo it
    // here once nothing (a container that outlived a killed dockerd) is mounted under it.
    const mounts = mountsUnder(this.dataRoot);
    if (mounts.length === 1 && mounts[0] === this.dataRoot) await promisify(execFile)('umount', [this.dataRoot]);
  }

  async kill(): Promise<void> {
    await this.signal('SIGKILL', 10_000);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Load each image from the main engine unless this engine already has the same image id. */
  async loadImages(images: string[]): Promise<void> {
    const began = performance.now();
    let loaded = false;
    for (const image of images) {
      const want = await imageId(image);
      if (!want) throw new Error(`image ${image} is missing on the main engine: run make images`);
      if ((await imageId(image, this.host)) === want) continue;
      await saveAndLoad(image, this.host);
      loaded = true;
    }
    this.timings.loadMs = loaded ? Math.round(performance.now() - began) : 0;
  }

  private async signal(signal: NodeJS.Signals, ms: number): Promise<void> {
    this.watchdog?.kill('SIGKILL');
    this.watchdog = null;
    const pid = this.pid();
    running.delete(this.name);
    if (pid === null) return;
    const containerdPid = pidFromFile(this.containerdPidFile);
    process.kill(pid, signal);
    await waitGone(pid, this.child?.pid === pid ? this.child : null, ms);
    this.child = null;
    // Its containerd dies with it (parent-death signal); wait so a start right after gets a fresh one.
    if (containerdPid !== null) await waitGone(containerdPid, null, 10_000);
  }

  private logTail(): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '(no log)';
    }
  }
}


/**
 * Start (or reuse the data root of) the private engine `name` and load `images` into it (default: the
 * sandbox image, CAPSULE_SANDBOX_IMAGE when set, as the server under test also reads it). A dockerd of
 * that name left over from a crashed run is stopped first, and swarm state in its data root is dropped.
 */
export async function startPrivateEngine(name: string, options: EngineOptions & { images?: string[] } = {}): Promise<PrivateEngine> {
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name)) throw new Error(`engine name "${name}": use 1-31 of a-z, 0-9, -`);
  const engine = new Engine(name, options);
  const stale = engine.pid();
  if (stale !== null) {
    process.kill(stale, 'SIGTERM');
    await waitGone(stale, null, 60_000);
  }
  // With dockerd stopped, deleting its swarm folder is how a node forgets a swarm (what `swarm leave` does).
  rmSync(join(engine.dataRoot, 'swarm'), { recursive: true, force: true });
  await engine.start();
  await engine.loadImages(options.images ?? [process.env['CAPSULE_SANDBOX_IMAGE'] || DEFAULT_SANDBOX_IMAGE]);
  return engine;
}

/** SIGTERM the private engine `name` (found by its pid file) and wait for it to exit; false when it was not running. */
export async function stopPrivateEngine(name: string): Promise<boolean> {
  const engine = new Engine(name);
  if (engine.pid() === null) return false;
  await engine.stop();
  return true;
}

/** SIGTERM every private engine found by its pid file, and wait for each to exit. */
export async function stopAllPrivateEngines(): Promise<string[]> {
  if (!existsSync(RUN_BASE)) return [];
  const stopped: string[] = [];
  for (const name of readdirSync(RUN_BASE).filter((f) => f.endsWith('.pid')).map((f) => f.slice(0, -4))) {
    if (await stopPrivateEngine(name)) stopped.push(name);
  }
  return stopped;
}

/** Stop the engine `name` and delete its data root, exec root and log (the next start loads its images again). */
export async function removePrivateEngineData(name: string): Promise<void> {
  const engine = new Engine(name);
  await engine.stop();
  // A dockerd killed with SIGKILL can leave overlay mounts behind: deleting through them is never right.
  const execRoot = join(RUN_BASE, name);
  const mounted = [...mountsUnder(engine.dataRoot), ...mountsUnder(execRoot)];
  if (mounted.length) throw new Error(`${engine.dataRoot} still has mounts (start and stop the engine once, or umount them):\n${mounted.join('\n')}`);
  for (const path of [engine.dataRoot, execRoot, `${execRoot}.log`, `${execRoot}.pid`]) rmSync(path, { recursive: true, force: true });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [command, name] = process.argv.slice(2);
  if (command === 'stop-all') console.log(`stopped: ${(await stopAllPrivateEngines()).join(', ') || 'none'}`);
  else if (command === 'remove-data' && name) await removePrivateEngineData(name);
  else {
    console.error('usage: private-engine.ts stop-all | remove-data NAME');
    process.exit(2);
  }
}
