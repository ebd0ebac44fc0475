import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { Calculator } from './devtools/calculator.js';
import { CodeGenerator } from './devtools/code-generator.js';
import { ContextStore } from './devtools/context-store.js';
import { DevToolsService } from './devtools/devtools-service.js';
import { createModelClient } from './devtools/model-client.js';
import type { ToolDeps } from './mcp/tool-context.js';
import { ProfilingService } from './profiling/profiling-service.js';
import { SelfProfiler } from './profiling/self-profiler.js';
import type { ContainerRuntime } from './runtime/container-runtime.js';
import type { BoundedVolumes } from './sandbox/volumes/bounded-volumes.js';
import type { Engine } from './sandbox/engines/engine.js';
import { buildEngineParts, type EngineRuntime, type EngineSource, type SwarmSetup } from './sandbox/engines/engine-parts.js';
import { SwarmDiscovery } from './sandbox/engines/swarm-discovery.js';
import { EngineSet } from './sandbox/engines/engine-set.js';
import { egressFromConfig } from './sandbox/egress/egress-from-config.js';
import type { EgressService } from './sandbox/egress/egress-service.js';
import type { InstanceIdentity } from './sandbox/container/labels.js';
import { ProcessManager } from './sandbox/processes/process-manager.js';
import { ProfileRegistry } from './sandbox/profiles/profiles.js';
import { Reaper } from './sandbox/reaper.js';
import { SandboxService } from './sandbox/sandbox-service.js';
import { WarmPool } from './sandbox/pool/warm-pool.js';
import { WorkspaceRouter } from './sandbox/workspaces/workspace-router.js';
import type { Workspaces } from './sandbox/workspaces/workspace-service.js';
import { ArtifactStore } from './store/artifact-store.js';
import { ResultCache } from './store/result-cache.js';
import { RunStore } from './store/run-store.js';
import { SqliteTaskStore } from './store/task-store.js';
import { TaskCalls } from './mcp/task-calls.js';
import { startRuntimeGauges } from './telemetry/metrics.js';

/** What tests may replace; a server uses none of these. */
export interface ServiceOverrides {
  /** Profiles as given, instead of loading CAPSULE_PROFILES_DIR. */
  profiles?: ProfileRegistry;
  /** A fixed identity (tests scope cleanup by it); default: CAPSULE_INSTANCE and a random boot id. */
  instance?: InstanceIdentity;
  /** ':memory:' keeps the run store in memory (artifacts still go under CAPSULE_DATA_DIR). */
  storeDir?: string;
  /** Where egress secrets' from_env values are read (default process.env). */
  env?: Record<string, string | undefined>;
}

/** Every service, built once; disposing it stops the runs, then closes the rest in reverse order of building. */
export interface Services extends AsyncDisposable {
  config: Config;
  log: Logger;
  /** The primary engine's runtime (the only one without CAPSULE_ENGINES). */
  runtime: ContainerRuntime;
  /** Every engine: placement, health, and each engine's pool, volumes, workspaces and reaper. */
  engines: EngineSet;
  instance: InstanceIdentity;
  profiles: ProfileRegistry;
  store: RunStore;
  /** MCP tasks, in the run store's database. */
  taskStore: SqliteTaskStore;
  /** The primary engine's volumes and warm pool (each engine has its own: engines.all()[i].parts). */
  volumes: BoundedVolumes;
  workspaces: Workspaces;
  artifacts: ArtifactStore;
  pool: WarmPool | undefined;
  /** The egress proxy, when an egress profile is enabled. */
  egress: EgressService | undefined;
  sandbox: SandboxService;
  processes: ProcessManager;
  /** The primary engine's reaper, which also runs the sweeps of the store, tasks, caches and egress. */
  reaper: Reaper;
  /** What the MCP layer (tools and resources) may use: services only, never the runtime. */
  tools: ToolDeps;
  /** Start-up checks (engine, disk quotas) and the background work (reaper, warm pools, gauges). */
  start(): Promise<void>;
  /** Stop the reaper and kill and remove every run in flight (bounded by CAPSULE_SHUTDOWN_TIMEOUT_MS). */
  drain(): Promise<void>;
  /** Read the Swarm's nodes now (what the CAPSULE_SWARM_REFRESH_MS timer does); nothing without Swarm. */
  refreshSwarm(): Promise<void>;
}

/** Closers run in reverse order of registration (what was built last is closed first). */
class Closers {
  private readonly list: Array<() => Promise<void> | void> = [];
  constructor(private readonly log: Logger) {}
  add(close: () => Promise<void> | void): void {
    this.list.push(close);
  }
  async closeAll(): Promise<void> {
    for (const close of this.list.reverse()) await Promise.resolve().then(close).catch((err: unknown) => this.log.error({ err }, 'closing a service failed'));
  }
}

type Core = Omit<Services, 'reaper' | 'tools' | 'start' | 'drain' | 'refreshSwarm' | typeof Symbol.asyncDispose> & { cache: ResultCache; context: ContextStore; calculator: Calculator };

// Tasks suggest polling once a second: the SDK's tasks/result also re-reads a task at its poll interval.
const TASK_POLL_INTERVAL_MS = 1000;

/** The composition of Capsule's services: the one place that decides who gets what. */
export function buildServices(config: Config, runtime: ContainerRuntime | EngineRuntime[] | EngineSource, log: Logger, overrides: ServiceOverrides = {}): Services {
  const closers = new Closers(log);
  const source: EngineSource = Array.isArray(runtime) ? { engines: runtime } : 'engines' in runtime ? runtime : { engines: [{ name: 'default', labels: {}, runtime }] };
  const core = buildCore(config, source, log, overrides, closers);
  for (const e of core.engines.all()) e.parts.reaper = buildReaper(core, e);
  const reaper = core.engines.primary.parts.reaper!;
  const discovery = source.swarm ? buildDiscovery(core, source.swarm) : null;
  const tools = toolDeps(core);
  let drained: Promise<void> | null = null;
  const drain = () =>
    (drained ??= (async () => {
      await discovery?.stop();
      core.engines.all().forEach((e) => e.parts.reaper?.stop());
      core.engines.stop();
      // Tasks' bodies stop too (their runs end killed), and store their results before the database closes.
      await Promise.all([core.sandbox.shutdown(), tools.tasks.drain(config.CAPSULE_SHUTDOWN_TIMEOUT_MS)]);
    })());
  let disposed: Promise<void> | null = null;
  const dispose = () => (disposed ??= drain().then(() => closers.closeAll()));
  const start = async () => {
    await startUp(core);
    if (drained) return;
    if (core.egress) {
      // What a crash of an earlier start left (its sandboxes, proxy, networks, volumes) goes first:
      // the new world takes the same names and subnet.
      await reaper.sweep().catch((err: unknown) => core.log.warn({ err: (err as Error).message }, 'reaper sweep failed'));
      await core.egress.start();
    }
    // Node states (drained, paused, not Ready) apply before any pool fills.
    await discovery?.refresh().catch((err: unknown) => core.log.warn({ err: (err as Error).message }, 'reading the Swarm nodes failed'));
    if (drained) return;
    core.engines.all().forEach((e) => e.parts.reaper?.start());
    core.engines.start();
    discovery?.start();
    for (const e of core.engines.all()) e.parts.pool?.start();
    startRuntimeGauges(core.pool ? () => poolSizes(core.engines) : undefined);
  };
  const refreshSwarm = async () => discovery?.refresh();
  return { ...core, reaper, tools, start, drain, refreshSwarm, [Symbol.asyncDispose]: dispose };
}

/** Idle warm containers per profile and engine (the capsule.pool.idle gauge). */
function poolSizes(engines: EngineSet): Array<{ profile: string; engine: string; idle: number }> {
  return engines.all().flatMap((e) => Object.entries(e.parts.pool?.sizes() ?? {}).map(([profile, idle]) => ({ profile, engine: e.name, idle })));
}

/** Swarm discovery: engines that join get their services and background work; engines that leave are stopped. */
function buildDiscovery(c: Core, swarm: SwarmSetup): SwarmDiscovery {
  const { config, log, instance, profiles } = c;
  return new SwarmDiscovery({
    source: swarm.source,
    engines: c.engines,
    log,
    intervalMs: config.CAPSULE_SWARM_REFRESH_MS,
    attach: (w) => buildEngineParts({ name: w.name, labels: w.labels, runtime: swarm.runtimeFor(w) }, { config, log, instance, profiles, many: true }),
    started: (engine) => {
      engine.parts.reaper = buildReaper(c, engine);
      engine.parts.reaper.start();
      engine.parts.pool?.start();
    },
    newPool: (engine) => (config.CAPSULE_POOL ? new WarmPool({ runtime: engine.runtime, log: log.child({ engine: engine.name }), instance, profiles }) : undefined),
    detach: async (engine) => {
      engine.parts.reaper?.stop();
      await engine.parts.pool?.close();
      await engine.parts.volumes?.close();
    },
  });
}

function buildCore(config: Config, source: EngineSource, log: Logger, overrides: ServiceOverrides, closers: Closers): Core {
  const runtimes = source.engines;
  const instance = overrides.instance ?? { name: config.CAPSULE_INSTANCE, bootId: randomBytes(6).toString('hex') };
  const profiles =
    overrides.profiles ?? ProfileRegistry.load(config.CAPSULE_PROFILES_DIR, { defaultImage: config.CAPSULE_SANDBOX_IMAGE, allowNetwork: config.CAPSULE_ALLOW_NETWORK_PROFILES });
  const store = RunStore.open(overrides.storeDir ?? config.CAPSULE_DATA_DIR, instance.name);
  closers.add(() => store.close());
  const interrupted = store.markInterrupted('the server stopped while this run was in flight');
  if (interrupted) log.warn({ runs: interrupted }, 'marked runs of an earlier start as failed');
  const taskStore = new SqliteTaskStore(store.database, {
    instance: instance.name,
    maxTtlMs: config.CAPSULE_RESULT_TTL,
    maxUnfinishedPerOwner: config.CAPSULE_OWNER_MAX_TASKS,
    pollIntervalMs: TASK_POLL_INTERVAL_MS,
  });
  const interruptedTasks = taskStore.markInterrupted('the server stopped while this task was in flight');
  if (interruptedTasks) log.warn({ tasks: interruptedTasks }, 'marked MCP tasks of an earlier start as failed');
  const many = runtimes.length > 1 || source.swarm !== undefined;
  const parts = runtimes.map((e) => buildEngineParts(e, { config, log, instance, profiles, many }));
  // Volume helpers still running (a reaper sweep, a usage read) finish and remove their containers.
  for (const p of parts) closers.add(() => p.volumes.close());
  const engines = new EngineSet(parts, { log, checkIntervalMs: config.CAPSULE_ENGINE_CHECK_INTERVAL_MS });
  engines.dynamic = source.swarm !== undefined;
  const { runtime, volumes, pool } = parts[0]!;
  const workspaces: Workspaces = many ? new WorkspaceRouter({ engines, instance, maxPerOwner: config.CAPSULE_MAX_WORKSPACES_PER_OWNER }) : parts[0]!.workspaces;
  const artifacts = new ArtifactStore(config.CAPSULE_DATA_DIR, config.CAPSULE_ARTIFACT_MAX_BYTES);
  const cache = new ResultCache(store.database, config.CAPSULE_RESULT_TTL);
  // Reads the egress secrets now: a missing one stops start-up here.
  const egress = egressFromConfig({ config, runtime, log, instance, profiles, env: overrides.env ?? process.env });
  // The proxy and its networks go after the runs (drain comes before every closer).
  if (egress) closers.add(() => egress.close());
  const sandbox = new SandboxService({ runtime, engines, profiles, config, log, instance, store, workspaces, cache, volumes, ...(pool ? { pool } : {}), ...(egress ? { egress } : {}) });
  const processes = new ProcessManager({ sandbox, log, retainBytes: config.CAPSULE_PROCESS_RETAIN_BYTES, resultTtlMs: config.CAPSULE_RESULT_TTL });
  const context = new ContextStore(store.database, {
    maxValueBytes: config.CAPSULE_CONTEXT_MAX_VALUE_BYTES,
    maxOwnerBytes: config.CAPSULE_CONTEXT_MAX_OWNER_BYTES,
    maxKeysPerOwner: config.CAPSULE_CONTEXT_MAX_KEYS,
  });
  const calculator = new Calculator();
  closers.add(() => calculator.close());
  return { config, log, runtime, engines, instance, profiles, store, taskStore, volumes, workspaces, artifacts, pool, egress, cache, sandbox, processes, context, calculator };
}

/**
 * An engine's reaper: containers no live object there owns, its expired workspaces, stale volumes and
 * idle pool containers; the primary's also runs every TTL sweep that is not per engine.
 */
function buildReaper(c: Core, e: Engine): Reaper {
  const { config } = c;
  const { volumes, workspaces } = e.parts;
  const pool = () => e.parts.pool;
  const primary = e === c.engines.primary;
  const egress = primary ? c.egress : undefined;
  const perEngine = [() => workspaces?.sweepExpired() ?? Promise.resolve(0), () => volumes?.sweep() ?? Promise.resolve(0), async () => pool()?.sweepIdle() ?? 0];
  const global = [
    async () => c.processes.sweepExpired(),
    async () => c.store.purgeFinishedBefore(config.CAPSULE_RESULT_TTL),
    async () => c.taskStore.purgeExpired(),
    async () => c.artifacts.purgeOlderThan(config.CAPSULE_RESULT_TTL),
    async () => c.cache.purge(),
    async () => c.context.purgeExpired(),
    async () => (egress ? egress.sweep() : 0),
    // Not a removal: profiles follow the engine's OCI runtimes (a runtime registered or removed while running).
    () => c.sandbox.engine.refreshRuntimes().then(() => 0, () => 0),
  ];
  return new Reaper({
    runtime: e.runtime,
    log: c.engines.many ? c.log.child({ engine: e.name }) : c.log,
    instance: c.instance,
    isOwned: (labels) =>
      c.sandbox.ownsContainer(labels) || (workspaces?.ownsContainer(labels) ?? false) || (volumes?.ownsContainer(labels) ?? false) || (pool()?.ownsContainer(labels) ?? false) || (egress?.ownsContainer(labels) ?? false),
    intervalMs: config.CAPSULE_REAP_INTERVAL_MS,
    extraSweeps: primary ? [...perEngine, ...global] : perEngine,
  });
}

/** Start-up checks: an engine setup that cannot work stops the server; an unreachable engine only warns. */
async function startUp({ sandbox, engines, runtime, log }: Core): Promise<void> {
  if (!(await sandbox.engine.verifyEngineSetup())) log.warn({ endpoint: runtime.endpoint }, 'Docker engine not reachable yet: runs fail until it is (no restart needed)');
  // Warns when volumes are unbounded; with CAPSULE_REQUIRE_DISK_QUOTA=1 refuses to start (an engine down now is probed later).
  await Promise.all(engines.all().map((e) => e.parts.volumes?.verify()));
  const ready = await sandbox.engine.readiness();
  if (!ready.ready) log.warn({ reason: ready.reason }, 'not ready yet: runs fail until this is fixed (no restart needed)');
}

/** The services the tools see, and the tool-only ones (profilers, dev tools, the model client). */
function toolDeps(c: Core): ToolDeps {
  const { config, log } = c;
  const modelClient =
    config.CAPSULE_MODEL_URL && config.CAPSULE_MODEL
      ? createModelClient({ url: config.CAPSULE_MODEL_URL, model: config.CAPSULE_MODEL, ...(config.CAPSULE_MODEL_API_KEY ? { apiKey: config.CAPSULE_MODEL_API_KEY } : {}) })
      : null;
  return {
    sandbox: c.sandbox,
    processes: c.processes,
    store: c.store,
    workspaces: c.workspaces,
    artifacts: c.artifacts,
    context: c.context,
    calculator: c.calculator,
    profiling: new ProfilingService({ sandbox: c.sandbox, artifacts: c.artifacts, log, maxArtifactBytes: config.CAPSULE_ARTIFACT_MAX_BYTES }),
    selfProfiler: new SelfProfiler(c.artifacts),
    devtools: new DevToolsService({ sandbox: c.sandbox, workspaces: c.workspaces }),
    codegen: new CodeGenerator(c.sandbox),
    modelClient,
    tasks: new TaskCalls({ records: c.taskStore, sandbox: c.sandbox, log, settleMs: config.CAPSULE_KILL_GRACE_MS + 10_000 }),
    log,
    profileTools: config.CAPSULE_PROFILE_TOOLS,
  };
}
