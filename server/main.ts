import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isLoopbackHost, loadTokens, StaticTokenVerifier } from './auth/tokens.js';
import { loadConfig } from './config.js';
import { ConfigurationError } from './errors.js';
import { createHttpApp } from './http/app.js';
import { McpSessions } from './http/mcp-sessions.js';
import { createLogger } from './log.js';
import { createToolCatalog } from './mcp/server.js';
import { DockerRuntime } from './runtime/docker/docker-runtime.js';
import type { InstanceIdentity } from './sandbox/container-spec.js';
import { ProfileRegistry } from './sandbox/profiles.js';
import { ProcessManager } from './sandbox/process-manager.js';
import { Reaper } from './sandbox/reaper.js';
import { WarmPool } from './sandbox/warm-pool.js';
import { RunStore } from './store/run-store.js';
import { ResultCache } from './store/result-cache.js';
import { closeCalculator } from './devtools/calculator.js';
import { CodeGenerator } from './devtools/code-generator.js';
import { ContextStore } from './devtools/context-store.js';
import { DevToolsService } from './devtools/devtools-service.js';
import { createModelClient } from './devtools/model-client.js';
import { ArtifactStore } from './store/artifact-store.js';
import { ProfilingService } from './profiling/profiling-service.js';
import { SelfProfiler } from './profiling/self-profiler.js';
import { SandboxService } from './sandbox/sandbox-service.js';
import { WorkspaceService } from './sandbox/workspace-service.js';
import { BoundedVolumes } from './sandbox/bounded-volumes.js';
import { startRuntimeGauges } from './telemetry/metrics.js';
import type { Telemetry } from './telemetry/setup.js';
import { CAPSULE_VERSION } from './version.js';

export interface ServeOptions {
  stdio: boolean;
  /** Started by the CLI before this module was imported. */
  telemetry?: Telemetry;
}

/**
 * The composition root: read the config once, build every service once, wire them, start the
 * transport, and tear everything down on SIGTERM/SIGINT (or when the stdio client goes away).
 */
export async function serve(options: ServeOptions): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.CAPSULE_LOG_LEVEL);
  const tokens = loadTokens(config);
  if (!options.stdio && tokens.length === 0 && !isLoopbackHost(config.CAPSULE_HOST)) {
    throw new ConfigurationError(
      `refusing to serve on ${config.CAPSULE_HOST} without authentication: set CAPSULE_TOKENS or CAPSULE_TOKENS_FILE, or bind a loopback address (CAPSULE_HOST=127.0.0.1)`,
    );
  }
  const instance: InstanceIdentity = { name: config.CAPSULE_INSTANCE, bootId: randomBytes(6).toString('hex') };
  const runtime = new DockerRuntime();
  const profiles = ProfileRegistry.load(config.CAPSULE_PROFILES_DIR, {
    defaultImage: config.CAPSULE_SANDBOX_IMAGE,
    allowNetwork: config.CAPSULE_ALLOW_NETWORK_PROFILES,
  });
  const store = RunStore.open(config.CAPSULE_DATA_DIR, instance.name);
  const interrupted = store.markInterrupted('the server stopped while this run was in flight');
  if (interrupted) log.warn({ runs: interrupted }, 'marked runs of an earlier start as failed');
  const volumes = new BoundedVolumes({ runtime, log, instance, image: config.CAPSULE_SANDBOX_IMAGE, root: config.CAPSULE_VOLUME_ROOT, required: config.CAPSULE_REQUIRE_DISK_QUOTA });
  const workspaces = new WorkspaceService({ runtime, log, instance, config, volumes });
  const artifacts = new ArtifactStore(config.CAPSULE_DATA_DIR, config.CAPSULE_ARTIFACT_MAX_BYTES);
  const selfProfiler = new SelfProfiler(artifacts);
  const pool = config.CAPSULE_POOL ? new WarmPool({ runtime, log, instance, profiles }) : undefined;
  const cache = new ResultCache(store.database, config.CAPSULE_RESULT_TTL);
  const sandbox = new SandboxService({ runtime, profiles, config, log, instance, store, workspaces, cache, volumes, ...(pool ? { pool } : {}) });
  const profiling = new ProfilingService({ sandbox, artifacts, log, maxArtifactBytes: config.CAPSULE_ARTIFACT_MAX_BYTES });
  const processes = new ProcessManager({
    sandbox,
    log,
    retainBytes: config.CAPSULE_PROCESS_RETAIN_BYTES,
    resultTtlMs: config.CAPSULE_RESULT_TTL,
  });
  const reaper = new Reaper({
    runtime,
    log,
    instance,
    isOwned: (labels) => sandbox.ownsContainer(labels) || workspaces.ownsContainer(labels) || volumes.ownsContainer(labels) || (pool?.ownsContainer(labels) ?? false),
    intervalMs: config.CAPSULE_REAP_INTERVAL_MS,
    extraSweeps: [
      async () => processes.sweepExpired(),
      async () => store.purgeFinishedBefore(config.CAPSULE_RESULT_TTL),
      () => workspaces.sweepExpired(),
      () => volumes.sweep(),
      async () => artifacts.purgeOlderThan(config.CAPSULE_RESULT_TTL),
      async () => (pool ? pool.sweepIdle() : 0),
      async () => cache.purge(),
      async () => context.purgeExpired(),
    ],
  });
  const context = new ContextStore(store.database, {
    maxValueBytes: config.CAPSULE_CONTEXT_MAX_VALUE_BYTES,
    maxOwnerBytes: config.CAPSULE_CONTEXT_MAX_OWNER_BYTES,
    maxKeysPerOwner: config.CAPSULE_CONTEXT_MAX_KEYS,
  });
  const modelClient =
    config.CAPSULE_MODEL_URL && config.CAPSULE_MODEL
      ? createModelClient({ url: config.CAPSULE_MODEL_URL, model: config.CAPSULE_MODEL, ...(config.CAPSULE_MODEL_API_KEY ? { apiKey: config.CAPSULE_MODEL_API_KEY } : {}) })
      : null;
  const toolDeps = {
    sandbox,
    processes,
    store,
    workspaces,
    profiling,
    selfProfiler,
    artifacts,
    devtools: new DevToolsService({ sandbox, workspaces }),
    codegen: new CodeGenerator(sandbox),
    context,
    modelClient,
    log,
    profileTools: config.CAPSULE_PROFILE_TOOLS,
  };

  // Signal handlers come before the first await, so a SIGTERM during start-up (compose down, a test
  // ending) still shuts down in order and removes what this server created.
  // Shutdown order matters: stop taking new work, kill the runs (so in-flight requests get their
  // `killed` results), then close sessions and wait for connections to drain.
  let stopping: Promise<void> | null = null;
  const beforeRuns: Array<() => void> = [() => reaper.stop()];
  // Volume helpers still running (a reaper sweep, a usage read) finish and remove their containers.
  const afterRuns: Array<() => Promise<void>> = [() => volumes.close()];
  const shutdown = (why: string) => {
    stopping ??= (async () => {
      log.info({ why }, 'shutting down');
      beforeRuns.forEach((hook) => hook());
      await sandbox.shutdown();
      for (const hook of afterRuns) await hook().catch((err) => log.error({ err }, 'shutdown step failed'));
      await closeCalculator().catch(() => undefined);
      store.close();
      await options.telemetry?.shutdown().catch(() => undefined);
      log.info('stopped');
    })();
    return stopping;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void shutdown(signal).then(() => process.exit(0)));
  }

  if (!(await sandbox.engine.verifyEngineSetup())) log.warn({ endpoint: runtime.endpoint }, 'Docker engine not reachable yet: runs fail until it is (no restart needed)');
  // Warns when volumes are unbounded; with CAPSULE_REQUIRE_DISK_QUOTA=1 refuses to start.
  await volumes.verify();
  const ready = await sandbox.engine.readiness();
  if (!ready.ready) log.warn({ reason: ready.reason }, 'not ready yet: runs fail until this is fixed (no restart needed)');
  if (stopping) return;
  reaper.start();
  pool?.start();
  startRuntimeGauges(pool ? () => pool.sizes() : undefined);

  const catalog = createToolCatalog(toolDeps);
  if (options.stdio) {
    const server = catalog.createServer();
    const transport = new StdioServerTransport();
    transport.onclose = () => void shutdown('stdio closed').then(() => process.exit(0));
    process.stdin.once('end', () => void shutdown('stdin ended').then(() => process.exit(0)));
    afterRuns.push(() => server.close());
    await server.connect(transport);
    log.info({ version: CAPSULE_VERSION, instance: instance.name, boot: instance.bootId }, 'Capsule serving MCP on stdio');
    return;
  }

  const sessions = new McpSessions(() => catalog.createServer(), log, {
    maxSessions: config.CAPSULE_MAX_SESSIONS,
    maxPerOwner: config.CAPSULE_OWNER_MAX_SESSIONS,
    idleMs: config.CAPSULE_SESSION_IDLE_TIMEOUT,
  });
  const allowedHosts = config.CAPSULE_ALLOWED_HOSTS?.split(',').map((h) => h.trim()).filter(Boolean);
  const app = createHttpApp({
    host: config.CAPSULE_HOST,
    ...(allowedHosts?.length ? { allowedHosts } : {}),
    ...(tokens.length ? { verifier: new StaticTokenVerifier(tokens) } : {}),
    maxBodyBytes: config.CAPSULE_MAX_BODY_BYTES,
    ...(options.telemetry ? { prometheus: options.telemetry.prometheus } : {}),
    sessions,
    sandbox,
    processes,
    store,
    workspaces,
    artifacts,
    log,
  });
  const httpServer = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.CAPSULE_PORT, config.CAPSULE_HOST, () => resolve(s));
    s.once('error', reject);
  });
  let httpClosed: Promise<void> = Promise.resolve();
  beforeRuns.push(() => {
    httpClosed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeIdleConnections();
  });
  afterRuns.push(
    () => sessions.closeAll(),
    async () => {
      // Give answered requests a moment to flush, then cut whatever is left (idle SSE streams).
      const drained = await Promise.race([httpClosed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
      if (!drained) httpServer.closeAllConnections();
    },
  );
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://${config.CAPSULE_HOST.includes(':') ? `[${config.CAPSULE_HOST}]` : config.CAPSULE_HOST}:${port}/mcp`;
  log.info({ version: CAPSULE_VERSION, instance: instance.name, boot: instance.bootId, url, auth: tokens.length > 0 }, 'Capsule listening');
  // A line for humans and for tests that start the server on port 0.
  process.stderr.write(`Capsule ${CAPSULE_VERSION} listening on ${url}${tokens.length ? ' (bearer tokens required)' : ''}\n`);
}
