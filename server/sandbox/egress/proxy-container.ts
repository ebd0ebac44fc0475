import type { Logger } from 'pino';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { RuntimeFailureError } from '../../errors.js';
import { PUBLIC_DIR, STATE_DIR } from '../../egress/proxy-config.js';
import type { AttachedIo, ContainerRuntime, ContainerSpec, ContainerState, OutputStream } from '../../runtime/container-runtime.js';
import { withSpan } from '../../telemetry/tracing.js';
import { egressLabels, type InstanceIdentity } from '../container/labels.js';
import { lockedDown } from '../container/lockdown.js';
import { packTar, type TarWrite } from '../container/tar.js';
import { LineSplitter } from './line-splitter.js';

/** The proxy's user in images/egress-proxy (non-root, owns the state volume). */
const PROXY_UID = 10003;
const MiB = 1024 * 1024;
// The image's own check, run every 2 s: the first check comes one interval after the start (Docker
// 20.10 has no start interval), so a (re-)created proxy is healthy ~2 s after it starts. Measured: 13 ms
// of CPU per check, 16 ms per second for the idle proxy in all (1.6% of a core).
const HEALTHCHECK = { argv: ['/opt/capsule-egress/healthcheck.sh'], intervalMs: 2000, timeoutMs: 3000, retries: 3, startPeriodMs: 5000 };
const HEALTHY_WITHIN_MS = 60_000;
const STDERR_KEPT = 40;

/** Where the proxy lives: its image, its two networks (the internal one at a pinned address) and volumes. */
export interface ProxyWorld {
  image: string;
  instance: InstanceIdentity;
  outside: string;
  internal: string;
  proxyIp: string;
  stateVolume: string;
  publicVolume: string;
}

/** The proxy container: the one lockdown (read-only root, no capabilities, no-new-privileges), non-root, a /tmp tmpfs. */
export function proxySpec(world: ProxyWorld, generation: string): ContainerSpec {
  const volume = (source: string, target: string, part: 'state' | 'public') => ({ source, target, readOnly: false, labelsIfCreated: egressLabels(part, world.instance) });
  return lockedDown({
    image: world.image,
    cmd: [],
    user: `${PROXY_UID}:${PROXY_UID}`,
    workdir: '/',
    env: { CAPSULE_EGRESS_INSTANCE: world.instance.name },
    labels: egressLabels('proxy', world.instance, generation),
    openStdin: false,
    // squid, its auth helpers and mitmdump: 68 MB resident idle (measured); the rest is connection buffers.
    memoryBytes: 512 * MiB,
    nanoCpus: 2e9,
    pidsLimit: 256,
    // nofile stays the engine's (20000 here; asking for more than dockerd's own limit fails the
    // start): one descriptor per client and upstream connection, and squid caps each sandbox at 256.
    ulimits: [{ name: 'core', soft: 0, hard: 0 }],
    tmpfs: { '/tmp': { sizeBytes: 64 * MiB, mode: 0o1777 } },
    volumes: [volume(world.stateVolume, STATE_DIR, 'state'), volume(world.publicVolume, PUBLIC_DIR, 'public')],
    network: world.outside,
    healthcheck: HEALTHCHECK,
    // tini is the image's entrypoint and PID 1.
    init: false,
  });
}

/** Files for the state volume (path relative to it → content), owned by the proxy user; `secret` ones 0600. */
export function stateArchive(files: Record<string, string>, secret: readonly string[] = []): Readable {
  const dirs = new Set(Object.keys(files).flatMap((path) => (path.includes('/') ? [path.slice(0, path.lastIndexOf('/'))] : [])));
  const owner = { uid: PROXY_UID, gid: PROXY_UID };
  const entries: TarWrite[] = [
    ...[...dirs].sort().map((name) => ({ type: 'directory' as const, name: `${name}/`, mode: 0o700, ...owner })),
    ...Object.entries(files).map(([name, content]) => ({ type: 'file' as const, name, mode: secret.includes(name) ? 0o600 : 0o644, ...owner, content: Buffer.from(content) })),
  ];
  return packTar(entries);
}

export interface ProxyContext {
  runtime: ContainerRuntime;
  log: Logger;
  /** Each access-log line the proxy writes on stdout. */
  onAccessLine: (line: string) => void;
}

/**
 * One started, healthy proxy container, its output followed (stdout: access log, stderr: diagnostics).
 * `launch` removes the container on every failure; `ended` resolves when the attach ends.
 */
export class ProxyContainer {
  private readonly stderr: string[] = [];
  private io!: AttachedIo;
  private following!: Promise<void>;

  private constructor(private readonly ctx: ProxyContext, readonly id: string, readonly generation: string) {}

  /** Create the proxy, write `files` into its state volume, join the internal network, start it, wait until healthy. */
  static async launch(ctx: ProxyContext, world: ProxyWorld, generation: string, files: Readable): Promise<ProxyContainer> {
    return withSpan('egress.proxy.launch', { 'capsule.egress.generation': generation }, async () => {
      const { runtime } = ctx;
      const proxy = new ProxyContainer(ctx, await runtime.create(proxySpec(world, generation)), generation);
      try {
        await runtime.putArchive(proxy.id, STATE_DIR, files);
        await runtime.connectNetwork(world.internal, proxy.id, { ipv4Address: world.proxyIp });
        await proxy.attach();
        await runtime.start(proxy.id);
        await proxy.healthy();
        return proxy;
      } catch (err) {
        await proxy.remove();
        throw err;
      }
    });
  }

  /** Resolves once the attach has ended: the container stopped, or the connection was cut (a proxy in between). */
  get ended(): Promise<void> {
    return this.following;
  }

  /** Follow the output again (after a cut connection; the container still runs). */
  async attach(): Promise<void> {
    this.io = await this.ctx.runtime.attach(this.id);
    this.following = this.follow(this.io);
  }

  inspect(): Promise<ContainerState> {
    return this.ctx.runtime.inspect(this.id);
  }

  /** Write files into the state volume (the proxy re-reads what changed). */
  write(files: Readable): Promise<void> {
    return this.ctx.runtime.putArchive(this.id, STATE_DIR, files);
  }

  /** The last diagnostic lines it wrote (entrypoint, squid, mitmdump): never header values or secrets. */
  diagnostics(): string {
    return this.stderr.join('\n');
  }

  /** Remove the container (its volumes stay). */
  async remove(): Promise<void> {
    this.io?.destroy();
    await this.ctx.runtime.remove(this.id).catch((err: unknown) => this.ctx.log.warn({ container_id: this.id, err }, 'removing the egress proxy failed'));
  }

  private async follow(io: AttachedIo): Promise<void> {
    const lines: Record<OutputStream, LineSplitter> = { stdout: new LineSplitter(), stderr: new LineSplitter() };
    try {
      for await (const chunk of io.output) {
        for (const line of lines[chunk.stream].push(chunk.data)) {
          if (chunk.stream === 'stdout') this.ctx.onAccessLine(line);
          else this.diagnostic(line);
        }
      }
    } catch (err) {
      this.ctx.log.debug({ container_id: this.id, err }, 'egress proxy output ended');
    }
  }

  private diagnostic(line: string): void {
    this.stderr.push(line);
    if (this.stderr.length > STDERR_KEPT) this.stderr.shift();
    this.ctx.log.debug({ container_id: this.id, line }, 'egress proxy');
  }

  private async healthy(): Promise<void> {
    const end = Date.now() + HEALTHY_WITHIN_MS;
    for (;;) {
      const state = await this.inspect();
      if (!state.running) {
        await this.following;
        throw new RuntimeFailureError(`the egress proxy exited (code ${state.exitCode}) before it was healthy: ${this.diagnostics().slice(-1500) || 'no output'}`);
      }
      if (state.health === 'healthy') return;
      if (state.health === 'unhealthy' || Date.now() > end) {
        throw new RuntimeFailureError(`the egress proxy did not become healthy (${state.health}): ${this.diagnostics().slice(-1500) || 'no output'}`);
      }
      await sleep(200);
    }
  }
}
