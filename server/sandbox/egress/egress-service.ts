import type { Logger } from 'pino';
import { EngineUnavailableError, RuntimeFailureError, ShuttingDownError } from '../../errors.js';
import type { NetworkSummary } from '../../egress/access-log.js';
import { buildProxyConfig } from '../../egress/proxy-config.js';
import { registerRun, SANDBOX_CA_DIR, sandboxEgressEnv } from '../../egress/run-registration.js';
import type { ContainerRuntime, VolumeMount } from '../../runtime/container-runtime.js';
import { NetworkInUseError, VolumeInUseError } from '../../runtime/runtime-errors.js';
import { capsuleMetrics } from '../../telemetry/metrics.js';
import { egressLabels, type InstanceIdentity, LABEL, ofInstance } from '../container/labels.js';
import type { Profile } from '../profiles/profiles.js';
import { EgressRuns } from './egress-runs.js';
import { createWorld, type EgressWorld, removeWorld } from './egress-world.js';
import { ProxyContainer, stateArchive } from './proxy-container.js';

/**
 * On an internal network Docker's resolver never answers outside names, and with the default
 * resolv.conf options a lookup waits 20 s before failing (measured); with these, 2 s.
 */
const DNS_OPTIONS = ['timeout:1', 'attempts:1'];
/**
 * Where the resolver forwards outside names: the sandbox's own loopback, where nothing listens, so a
 * forward fails at once instead of waiting out the engine's 4 s upstream timeout, which held the
 * removal of a container that had just looked a name up (measured: 2.7 s -> 0.13 s). No query leaves
 * the sandbox's namespace either way (checked: a listener on the host's 127.0.0.1:53 got none).
 */
const DNS_SERVERS = ['127.0.0.1'];
const HEALTH_CHECK_EVERY_MS = 10_000;
const RETRY_MS = { first: 1000, max: 30_000 };

export interface EgressServiceDeps {
  runtime: ContainerRuntime;
  log: Logger;
  instance: InstanceIdentity;
  /** The enabled egress profiles. */
  profiles: Profile[];
  /** Resolved secret values: profile → secret name → value (resolveSecretValues). Never logged. */
  secretValues: Record<string, Record<string, string>>;
  image: string;
  outsideNetwork?: string;
  subnetPool: string;
  /** Extra upstream roots (CAPSULE_EGRESS_UPSTREAM_CA). */
  upstreamCaPem?: string;
  /** How long a run's summary waits for the proxy's last lines (default 150 ms quiet, at most 2 s). */
  flush?: { quietMs: number; maxMs: number };
}

/** Where an egress run's sandbox goes and what it is given: set on its container spec. */
export interface EgressPlacement {
  network: string;
  env: Record<string, string>;
  /** The proxy's public volume (its CA), read-only. */
  mount: VolumeMount;
  dns: string[];
  dnsOptions: string[];
}

/** One run's registration with the proxy: its placement, its traffic, and the release of its credentials. */
export interface EgressLease {
  placement: EgressPlacement;
  /** What the run reached and was refused, once its program has ended. Never rejects. */
  summary(): Promise<NetworkSummary>;
  /** Unregister the run (its credentials stop working); safe to call more than once. */
  release(): void;
}

/**
 * Capsule's egress proxy: one shared proxy for every egress profile (runs are told apart and given
 * their profile's allowlist by per-run credentials), on an internal network its sandboxes share, and
 * on an outside network. It creates, health-checks, re-creates and removes the proxy and its world
 * (networks, state and public volumes); each run registers before its sandbox starts.
 */
export class EgressService {
  private world: Promise<EgressWorld> | null = null;
  private proxy: ProxyContainer | null = null;
  private launching: Promise<ProxyContainer> | null = null;
  private generation = 0;
  private closed = false;
  private healthTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MS.first;
  private lastError: string | null = null;
  private readonly runs: EgressRuns;

  constructor(private readonly deps: EgressServiceDeps) {
    this.runs = new EgressRuns(deps.log, (content) => this.writeRegistry(content), deps.flush ?? { quietMs: 150, maxMs: 2000 });
  }

  /**
   * Bring the proxy up (start-up). An unreachable engine only warns: it is retried in the background
   * and by the first egress run; any other failure (missing image, no free subnet) stops start-up.
   */
  async start(): Promise<void> {
    try {
      await this.ensure();
    } catch (err) {
      if (!(err instanceof EngineUnavailableError)) throw err;
      this.deps.log.warn({ err: err.message }, 'egress proxy not started yet (engine unreachable): retrying');
      this.scheduleRetry();
    }
    this.healthTimer = setInterval(() => void this.checkHealth(), HEALTH_CHECK_EVERY_MS);
    this.healthTimer.unref();
  }

  /** Register a run of an egress profile; resolves once the proxy knows its credentials. */
  async lease(runId: string, profile: Profile): Promise<EgressLease> {
    if (!profile.egress) throw new RuntimeFailureError(`profile ${profile.name} has no egress`);
    await this.ensure();
    const world = await this.world!;
    const run = registerRun(runId, profile.name, profile.egress);
    try {
      await this.runs.add(run.registration);
    } catch (err) {
      this.runs.remove(runId);
      throw new RuntimeFailureError(`could not register the run with the egress proxy: ${(err as Error).message}`, { cause: err });
    }
    let released = false;
    return {
      placement: {
        network: world.internal,
        env: sandboxEgressEnv({ proxyIp: world.plan.proxyIp, run }),
        mount: { source: world.publicVolume, target: SANDBOX_CA_DIR, readOnly: true, labelsIfCreated: egressLabels('public', this.deps.instance) },
        dns: DNS_SERVERS,
        dnsOptions: DNS_OPTIONS,
      },
      summary: async () => {
        const summary = await this.runs.summary(runId).catch(() => ({ allowed: [], denied: [] }));
        if (summary.denied.length) this.deps.log.info({ run_id: runId, profile: profile.name, denied: summary.denied.slice(0, 20) }, 'egress requests denied');
        return summary;
      },
      release: () => {
        if (released) return;
        released = true;
        this.runs.remove(runId);
      },
    };
  }

  /** True for the current proxy container (the reaper's question); a replaced one is not owned. */
  ownsContainer(labels: Record<string, string>): boolean {
    return labels[LABEL.kind] === 'egress-proxy' && labels[LABEL.boot] === this.deps.instance.bootId && labels[LABEL.runId] === this.generationId(this.generation);
  }

  /** The reaper's sweep: egress networks and volumes of earlier starts of this server (what a crash left). */
  async sweep(): Promise<number> {
    const { runtime, instance, log } = this.deps;
    let removed = 0;
    // A part this start took over (an outside network an earlier start made) is never stale, even
    // while no container uses it (the proxy being re-created).
    const world = await this.world?.catch(() => null);
    const current = new Set(world ? [world.outside, world.internal, world.stateVolume, world.publicVolume] : []);
    const stale = (labels: Record<string, string>, name: string) => labels[LABEL.boot] !== instance.bootId && !current.has(name);
    for (const n of await runtime.listNetworks(ofInstance(instance, { [LABEL.kind]: 'egress-network' }))) {
      if (!stale(n.labels, n.name)) continue;
      removed += await runtime.removeNetwork(n.name).then(() => 1, (err: unknown) => (err instanceof NetworkInUseError ? 0 : Promise.reject(err)));
    }
    for (const v of await runtime.listVolumes(ofInstance(instance, { [LABEL.kind]: 'egress-volume' }))) {
      if (!stale(v.labels, v.name)) continue;
      removed += await runtime.removeVolume(v.name).then(() => 1, (err: unknown) => (err instanceof VolumeInUseError ? 0 : Promise.reject(err)));
    }
    if (removed) log.info({ removed }, 'removed egress networks and volumes of an earlier start');
    return removed;
  }

  /** Why egress runs cannot start right now, or null (a /readyz note). */
  readinessNote(): string | null {
    if (this.proxy) return null;
    return `egress proxy is not running${this.lastError ? ` (${this.lastError})` : ''}: runs of egress profiles fail until it is back`;
  }

  /** Remove the proxy, its networks and volumes (shutdown, after the runs are gone). */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.healthTimer);
    clearTimeout(this.retryTimer);
    await this.launching?.catch(() => undefined);
    await this.proxy?.remove();
    this.proxy = null;
    const world = await this.world?.catch(() => null);
    const errors = world ? await removeWorld(this.deps.runtime, world) : [];
    if (errors.length) this.deps.log.warn({ errors: errors.map((e) => e.message) }, 'some egress networks or volumes could not be removed (the reaper of the next start removes them)');
  }

  /** The healthy proxy, (re-)created when there is none. */
  private ensure(): Promise<ProxyContainer> {
    if (this.closed) return Promise.reject(new ShuttingDownError('the server is shutting down'));
    if (this.proxy) return Promise.resolve(this.proxy);
    this.launching ??= this.launch().finally(() => (this.launching = null));
    return this.launching;
  }

  private generationId(n: number): string {
    return `egress-${this.deps.instance.bootId}-${n}`;
  }

  private async launch(): Promise<ProxyContainer> {
    const { deps } = this;
    try {
      this.world ??= createWorld({ runtime: deps.runtime, instance: deps.instance, subnetPool: deps.subnetPool, ...(deps.outsideNetwork ? { outsideNetwork: deps.outsideNetwork } : {}) });
      const world = await this.world.catch((err: unknown) => {
        this.world = null;
        throw err;
      });
      const config = buildProxyConfig({
        profiles: deps.profiles.map((p) => ({ name: p.name, egress: p.egress! })),
        secretValues: deps.secretValues,
        // Sandboxes share the internal network: an allowed name that resolves into it is refused.
        denyDestinations: [world.plan.subnet],
        ...(deps.upstreamCaPem ? { upstreamCaPem: deps.upstreamCaPem } : {}),
      });
      const files = stateArchive({ ...config.files, 'registry/runs.json': this.runs.file() }, config.secretFiles);
      const generation = this.generationId(++this.generation);
      const onAccessLine = (line: string) => this.runs.line(line);
      const proxy = await ProxyContainer.launch({ runtime: deps.runtime, log: deps.log, onAccessLine }, { ...world, image: deps.image, instance: deps.instance, proxyIp: world.plan.proxyIp }, generation, files);
      if (this.closed) {
        await proxy.remove();
        throw new ShuttingDownError('the server is shutting down');
      }
      this.proxy = proxy;
      this.lastError = null;
      this.retryMs = RETRY_MS.first;
      deps.log.info({ container_id: proxy.id, generation, subnet: world.plan.subnet, proxy_ip: world.plan.proxyIp, bridge: world.plan.bridgeName, outside: world.outside }, 'egress proxy healthy');
      void this.watch(proxy);
      return proxy;
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  /** Follow the proxy until it stops: a cut attach is re-attached, a stopped proxy re-created. */
  private async watch(proxy: ProxyContainer): Promise<void> {
    for (;;) {
      await proxy.ended;
      if (this.closed || this.proxy !== proxy) return;
      const state = await proxy.inspect().catch(() => null);
      if (state?.running && (await proxy.attach().then(() => true, () => false))) continue;
      await this.replace(proxy, `it stopped${state?.exitCode != null ? ` (exit ${state.exitCode})` : ''}`);
      return;
    }
  }

  /** The periodic check: an unhealthy proxy is replaced (a stopped one is seen by watch at once). */
  private async checkHealth(): Promise<void> {
    const proxy = this.proxy;
    if (!proxy || this.closed) return;
    const state = await proxy.inspect().catch(() => null);
    if (state && (!state.running || state.health === 'unhealthy')) await this.replace(proxy, state.running ? 'it is unhealthy' : 'it stopped');
  }

  private async replace(proxy: ProxyContainer, why: string): Promise<void> {
    if (this.proxy !== proxy || this.closed) return;
    this.proxy = null;
    this.deps.log.warn({ container_id: proxy.id, why, diagnostics: proxy.diagnostics().slice(-1000) }, 'egress proxy lost: re-creating it');
    capsuleMetrics.egressProxyRestarts.add(1);
    await proxy.remove();
    await this.ensure().catch((err: unknown) => {
      this.deps.log.error({ err }, 'egress proxy could not be re-created: retrying');
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.ensure().catch(() => this.scheduleRetry());
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MS.max);
  }

  private async writeRegistry(content: string): Promise<void> {
    // A proxy being re-created gets the registry with its launch; the write waits for it.
    const proxy = await this.ensure();
    await proxy.write(stateArchive({ 'registry/runs.json': content }));
  }
}
