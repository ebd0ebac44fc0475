/**
 * Many private Docker engines at once, for scale-out tests and benchmarks (one Capsule over several
 * engines), optionally reached over TCP with TLS and joined into a real Docker Swarm. Built on
 * test/helpers/private-engine.ts (its own dockerd, data root, exec root, socket and pid file per engine).
 *
 *   await using set = await startEngines([{ name: 'sw-a', address: '127.0.0.2' }, ...], { tls: true });
 *   set.get('sw-a').host       unix:///var/run/docker-sw-a.sock
 *   set.get('sw-a').tcpHost    tcp://127.0.0.2:2376 (TLS; certPath is its DOCKER_CERT_PATH folder)
 *   const swarm = await set.startSwarm();   the first engine inits, the others join (test/helpers/swarm.ts)
 *
 * - Engines start in parallel (~1-2 s each when warm). Data roots are kept between runs, so images are
 *   loaded only when missing: `docker save` once to a temp tar, then `docker load` into every engine
 *   that lacks it, in parallel (the sandbox image took ~12 s cold per engine one at a time).
 * - Every engine of a set is wholly the harness's: at start its leftover containers and volumes (from
 *   a crashed run) are removed, and it gets its own host name (its name unless given; Swarm names
 *   nodes after it).
 * - Addresses are loopback (127.0.0.0/8 all answer on Linux without configuration); TCP is TLS-only,
 *   with a CA made for the set in a temp folder (test/helpers/engine-tls.ts). No plain TCP, ever.
 * - Swarm needs no dockerd flag beyond private-engine.ts's (--bridge=none --iptables=false
 *   --ip-masq=false do not block init or join; measured): only a distinct advertise/listen address
 *   per engine. Overlay networks cannot span engines on one host (see swarm.ts).
 *
 * Cleanup on every path: stop() / `await using` leave the swarm, remove containers and volumes, stop
 * the engines (their netns mounts undone) and delete the temp CA; an exit hook (private-engine.ts)
 * SIGTERMs the engines if the process ends first, and a detached watchdog then drops their swarm state
 * and the temp CA (also after a SIGKILL). By hand:
 *   npx tsx test/helpers/engines.ts stop-all     stop every engine this harness started, leave swarms
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DockerRuntime } from '../../server/runtime/docker/docker-runtime.js';
import { DEFAULT_SANDBOX_IMAGE } from '../../server/version.js';
import { makeTestPki, type TestPki } from './engine-tls.js';
import { imageId } from './image-transfer.js';
import { DATA_BASE, type PrivateEngine, RUN_BASE, startPrivateEngine, stopPrivateEngine } from './private-engine.js';
import { docker, leaveSwarm, Swarm, type SwarmMember } from './swarm.js';

/** The TLS port of every engine (on its own address), Docker's convention for TLS. */
export const TLS_PORT = 2376;

export interface EngineDef {
  name: string;
  /** Loopback IPv4 address for its TLS listener and its swarm traffic, e.g. 127.0.0.2. */
  address: string;
  /** Its host name (the Swarm node's hostname); default: its name. Give two the same to test a collision. */
  hostname?: string;
}

export interface HarnessEngine extends SwarmMember {
  readonly engine: PrivateEngine;
  /** A runtime on its unix socket. */
  readonly runtime: DockerRuntime;
  /** tcp://<address>:2376 (TLS) when the set was started with tls, else null. */
  readonly tcpHost: string | null;
  /** Its DOCKER_CERT_PATH folder (ca.pem, cert.pem, key.pem) when tls, else null. */
  readonly certPath: string | null;
  /** DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH for its TLS endpoint (the docker CLI and docker-modem read them). */
  tlsEnv(): Record<string, string>;
  /** A runtime over TLS (docker-modem reads the TLS variables when the runtime is built). */
  tlsRuntime(): DockerRuntime;
  /** The docker CLI against its unix socket. */
  docker(args: string[], input?: string): Promise<string>;
}

export interface EngineSet extends AsyncDisposable {
  readonly engines: HarnessEngine[];
  readonly pki: TestPki | null;
  readonly swarm: Swarm | null;
  get(name: string): HarnessEngine;
  /** `manager` (default: the first engine) inits a swarm; `workers` (default: every other engine) join. */
  startSwarm(manager?: string, workers?: string[]): Promise<Swarm>;
  /** Tear everything down (idempotent); a failure is thrown after every step has been tried. */
  stop(): Promise<void>;
}

const marker = (name: string) => join(RUN_BASE, `${name}.harness`);

/** Run `fn` with the TLS variables of `env` set, restoring the environment after. */
function withEnv<T>(env: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

function harnessEngine(def: EngineDef, engine: PrivateEngine, pki: TestPki | null): HarnessEngine {
  const tcpHost = pki ? `tcp://${def.address}:${TLS_PORT}` : null;
  const certPath = pki ? pki.clientCertPath(def.name) : null;
  const tlsEnv = () => {
    if (!tcpHost || !certPath) throw new Error(`${def.name} was started without tls`);
    return { DOCKER_HOST: tcpHost, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certPath };
  };
  return {
    ...def,
    host: engine.host,
    engine,
    runtime: engine.runtime,
    tcpHost,
    certPath,
    tlsEnv,
    tlsRuntime: () => withEnv(tlsEnv(), () => new DockerRuntime()),
    docker: (args, input) => docker(engine.host, args, input),
  };
}

/** Remove every container and volume on an engine the harness owns (a kept data root may hold a crashed run's). */
async function emptyEngine(host: string): Promise<void> {
  const containers = (await docker(host, ['ps', '-aq'])).split('\n').filter(Boolean);
  if (containers.length) await docker(host, ['rm', '-f', '-v', ...containers]);
  const volumes = (await docker(host, ['volume', 'ls', '-q'])).split('\n').filter(Boolean);
  if (volumes.length) await docker(host, ['volume', 'rm', '-f', ...volumes]);
}

/** Load each image into the engines that lack it: one `docker save` to a temp tar, parallel loads. */
export async function loadImages(hosts: string[], images: string[]): Promise<void> {
  for (const image of images) {
    const want = await imageId(image);
    if (!want) throw new Error(`image ${image} is missing on the main engine: run make images`);
    const missing: string[] = [];
    for (const host of hosts) if ((await imageId(image, host)) !== want) missing.push(host);
    if (!missing.length) continue;
    const dir = mkdtempSync(join(tmpdir(), 'capsule-engines-image-'));
    try {
      const tar = join(dir, 'image.tar');
      await docker(process.env['DOCKER_HOST'] || 'unix:///var/run/docker.sock', ['save', '-o', tar, image]);
      await Promise.all(missing.map((host) => docker(host, ['load', '-q', '-i', tar])));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

// After the test process is gone (its exit hook or private-engine's watchdog SIGTERMs the engines):
// wait for each dockerd to exit, then drop its swarm state and netns mounts, its marker, and the CA.
const WATCHDOG = `while kill -0 "$1" 2>/dev/null; do sleep 1; done
pki="$2"; shift 2
for name in "$@"; do
  i=0; while pgrep -f "unix:///var/run/docker-$name[.]sock" >/dev/null && [ $i -lt 90 ]; do sleep 1; i=$((i+1)); done
  pgrep -f "unix:///var/run/docker-$name[.]sock" >/dev/null && continue
  rm -rf "${DATA_BASE}/$name/swarm"
  for m in $(awk '{print $2}' /proc/mounts | grep "^/run/capsule-test-engines/$name/netns/"); do umount "$m"; done
  rm -f "${RUN_BASE}/$name.harness"
done
[ "$pki" = - ] || rm -rf "$pki"`;

class Engines implements EngineSet {
  swarm: Swarm | null = null;
  private stopping: Promise<void> | null = null;

  constructor(
    readonly engines: HarnessEngine[],
    readonly pki: TestPki | null,
    private readonly watchdog: ChildProcess,
  ) {}

  get(name: string): HarnessEngine {
    const engine = this.engines.find((e) => e.name === name);
    if (!engine) throw new Error(`no engine ${name} in this set (${this.engines.map((e) => e.name).join(', ')})`);
    return engine;
  }

  async startSwarm(manager = this.engines[0]!.name, workers?: string[]): Promise<Swarm> {
    if (this.swarm) throw new Error('this set already has a swarm');
    const others = workers ?? this.engines.map((e) => e.name).filter((n) => n !== manager);
    this.swarm = await Swarm.create(this.get(manager), others.map((n) => this.get(n)));
    return this.swarm;
  }

  stop(): Promise<void> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private async teardown(): Promise<void> {
    const failures: unknown[] = [];
    const attempt = (p: Promise<unknown>) => p.catch((err: unknown) => void failures.push(err));
    await attempt(this.swarm?.teardown() ?? Promise.resolve());
    await Promise.all(this.engines.map(async (e) => {
      if (e.engine.pid() !== null) {
        await attempt(leaveSwarm(e.host));
        await attempt(emptyEngine(e.host));
      }
      await attempt(e.engine.stop());
      rmSync(marker(e.name), { force: true });
    }));
    this.watchdog.kill('SIGKILL');
    if (this.pki) rmSync(this.pki.dir, { recursive: true, force: true });
    if (failures.length) throw new AggregateError(failures, `stopping engines ${this.engines.map((e) => e.name).join(', ')} failed`);
  }
}

async function tempPki(defs: EngineDef[]): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), `capsule-engines-pki-${process.pid}-`));
  return makeTestPki(dir, defs).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
}

/**
 * Start the engines `defs` (names as private-engine.ts allows; addresses distinct loopback IPv4) with
 * `images` loaded (default: the sandbox image), each with a TLS listener on <address>:2376 when `tls`.
 */
export async function startEngines(defs: EngineDef[], options: { tls?: boolean; images?: string[] } = {}): Promise<EngineSet> {
  if (new Set(defs.map((d) => d.address)).size !== defs.length) throw new Error('two engines share an address');
  const pki = options.tls ? await tempPki(defs) : null;
  mkdirSync(RUN_BASE, { recursive: true });
  const watchdog = spawn('sh', ['-c', WATCHDOG, 'capsule-engines-watchdog', String(process.pid), pki?.dir ?? '-', ...defs.map((d) => d.name)], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  const started: HarnessEngine[] = [];
  const set = new Engines(started, pki, watchdog);
  try {
    await Promise.all(defs.map(async (def) => {
      const tls = pki?.serverFiles(def.name);
      const dockerdArgs = tls ? ['-H', `tcp://${def.address}:${TLS_PORT}`, '--tlsverify', `--tlscacert=${tls.ca}`, `--tlscert=${tls.cert}`, `--tlskey=${tls.key}`] : [];
      writeFileSync(marker(def.name), JSON.stringify({ pid: process.pid, pki: pki?.dir ?? null }));
      const engine = await startPrivateEngine(def.name, { images: [], hostname: def.hostname ?? def.name, dockerdArgs });
      started.push(harnessEngine(def, engine, pki));
      await emptyEngine(engine.host);
      // A run killed during a swarm init can leave the manager's gateway bridge behind.
      await leaveSwarm(engine.host);
    }));
    started.sort((a, b) => defs.findIndex((d) => d.name === a.name) - defs.findIndex((d) => d.name === b.name));
    await loadImages(started.map((e) => e.host), options.images ?? [process.env['CAPSULE_SANDBOX_IMAGE'] || DEFAULT_SANDBOX_IMAGE]);
    return set;
  } catch (err) {
    // Engines whose start failed are not in the set yet: private-engine.ts's exit hook covers them.
    await set.stop().catch(() => undefined);
    throw err;
  }
}

/** Stop every engine a harness started (found by its marker): leave its swarm, empty it, stop it, forget its swarm state. */
export async function stopAllEngines(): Promise<string[]> {
  if (!existsSync(RUN_BASE)) return [];
  const names = readdirSync(RUN_BASE).filter((f) => f.endsWith('.harness')).map((f) => f.slice(0, -'.harness'.length));
  for (const name of names) {
    const host = `unix:///var/run/docker-${name}.sock`;
    const { pki } = JSON.parse(readFileSync(marker(name), 'utf8')) as { pki: string | null };
    if (await docker(host, ['version']).then(() => true, () => false)) {
      await leaveSwarm(host);
      await emptyEngine(host);
    }
    await stopPrivateEngine(name);
    rmSync(join(DATA_BASE, name, 'swarm'), { recursive: true, force: true });
    if (pki) rmSync(pki, { recursive: true, force: true });
    rmSync(marker(name), { force: true });
  }
  return names;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === 'stop-all') console.log(`stopped: ${(await stopAllEngines()).join(', ') || 'none'}`);
  else {
    console.error('usage: engines.ts stop-all');
    process.exit(2);
  }
}
