import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isLoopbackHost, loadTokens, StaticTokenVerifier } from './auth/tokens.js';
import { type Config, loadConfig } from './config.js';
import { ConfigurationError } from './errors.js';
import { createHttpApp } from './http/app.js';
import { McpSessions } from './http/mcp-sessions.js';
import { createLogger } from './log.js';
import { createToolCatalog } from './mcp/server.js';
import { DockerRuntime } from './runtime/docker/docker-runtime.js';
import { DockerSwarmNodes } from './runtime/docker/docker-swarm.js';
import type { EngineSource } from './sandbox/engines/engine-parts.js';
import { ENGINE_LABEL, type SwarmEngine, swarmEngines } from './sandbox/engines/swarm-engines.js';
import { buildServices, type Services } from './services.js';
import type { Telemetry } from './telemetry/setup.js';
import { CAPSULE_VERSION } from './version.js';

export interface ServeOptions {
  stdio: boolean;
  /** Started by the CLI before this module was imported. */
  telemetry?: Telemetry;
}

/** A transport: stops taking new requests at once; closes (sessions answered, connections drained) after the runs are killed. */
interface Transport {
  stopAccepting(): void;
  close(): Promise<void>;
}

/**
 * The composition root: config and tokens, the services, one transport, and the signals. Shutdown
 * order: stop taking work, kill the runs (so in-flight requests get their `killed` results), close the
 * transport, then the services in reverse order of building.
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
  const services = buildServices(config, await engineSource(config), log);
  const transports: Transport[] = [];
  let stopping: Promise<void> | null = null;
  const shutdown = (why: string) => {
    stopping ??= (async () => {
      log.info({ why }, 'shutting down');
      transports.forEach((t) => t.stopAccepting());
      await services.drain();
      for (const t of transports) await t.close().catch((err) => log.error({ err }, 'closing a transport failed'));
      await services[Symbol.asyncDispose]();
      await options.telemetry?.shutdown().catch(() => undefined);
      log.info('stopped');
    })();
    return stopping;
  };
  // Signal handlers come before the first await, so a SIGTERM during start-up (compose down, a test
  // ending) still shuts down in order and removes what this server created.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void shutdown(signal).then(() => process.exit(0)));

  await services.start();
  if (stopping) return;
  const identity = { version: CAPSULE_VERSION, instance: services.instance.name, boot: services.instance.bootId };
  if (options.stdio) {
    transports.push(await serveStdio(services, () => void shutdown('stdio closed').then(() => process.exit(0))));
    log.info(identity, 'Capsule serving MCP on stdio');
    return;
  }
  const { transport, url } = await serveHttp(config, services, options.telemetry, tokens.length ? new StaticTokenVerifier(tokens) : undefined);
  transports.push(transport);
  log.info({ ...identity, url, auth: tokens.length > 0 }, 'Capsule listening');
  // A line for humans and for tests that start the server on port 0.
  process.stderr.write(`Capsule ${CAPSULE_VERSION} listening on ${url}${tokens.length ? ' (bearer tokens required)' : ''}\n`);
}

/**
 * Where runs go: the engines of CAPSULE_ENGINES (each its own runtime, TLS from its cert folder), the
 * labelled nodes of the Swarm at CAPSULE_SWARM_MANAGER (read once now, then on a timer), else the one
 * engine of DOCKER_HOST.
 */
async function engineSource(config: Config): Promise<DockerRuntime | EngineSource> {
  if (config.CAPSULE_ENGINES && config.CAPSULE_SWARM_MANAGER) throw new ConfigurationError('set CAPSULE_ENGINES or CAPSULE_SWARM_MANAGER, not both');
  if (config.CAPSULE_ENGINES) {
    return {
      engines: config.CAPSULE_ENGINES.map((e) => ({
        name: e.name,
        labels: e.labels,
        runtime: new DockerRuntime({ dockerHost: e.endpoint, name: e.name, ...(e.certPath ? { certPath: e.certPath } : {}) }),
      })),
    };
  }
  if (!config.CAPSULE_SWARM_MANAGER) return new DockerRuntime();
  const source = new DockerSwarmNodes({ dockerHost: config.CAPSULE_SWARM_MANAGER });
  const found = swarmEngines(await source.listNodes());
  if (!found.length) throw new ConfigurationError(`no node of the Swarm at ${config.CAPSULE_SWARM_MANAGER} has the label ${ENGINE_LABEL}=<endpoint>: docker node update --label-add ${ENGINE_LABEL}=unix:///var/run/docker.sock <node>`);
  const runtimeFor = (w: SwarmEngine) => new DockerRuntime({ dockerHost: w.endpoint, name: w.name });
  return { engines: found.map((w) => ({ name: w.name, labels: w.labels, runtime: runtimeFor(w) })), swarm: { source, runtimeFor } };
}

/** One client on stdin/stdout; its going away shuts the server down. */
async function serveStdio(services: Services, onClosed: () => void): Promise<Transport> {
  const server = createToolCatalog(services.tools).createServer('local');
  const transport = new StdioServerTransport();
  transport.onclose = onClosed;
  process.stdin.once('end', onClosed);
  await server.connect(transport);
  return { stopAccepting: () => undefined, close: () => server.close() };
}

/** Streamable HTTP at /mcp, the REST API and the health routes. */
async function serveHttp(config: Config, services: Services, telemetry: Telemetry | undefined, verifier: StaticTokenVerifier | undefined): Promise<{ transport: Transport; url: string }> {
  const catalog = createToolCatalog(services.tools);
  const sessions = new McpSessions((owner) => catalog.createServer(owner), services.log, {
    maxSessions: config.CAPSULE_MAX_SESSIONS,
    maxPerOwner: config.CAPSULE_OWNER_MAX_SESSIONS,
    idleMs: config.CAPSULE_SESSION_IDLE_TIMEOUT,
  });
  const allowedHosts = config.CAPSULE_ALLOWED_HOSTS?.split(',').map((h) => h.trim()).filter(Boolean);
  const app = createHttpApp({
    host: config.CAPSULE_HOST,
    ...(allowedHosts?.length ? { allowedHosts } : {}),
    ...(verifier ? { verifier } : {}),
    maxBodyBytes: config.CAPSULE_MAX_BODY_BYTES,
    ...(telemetry ? { prometheus: telemetry.prometheus } : {}),
    sessions,
    ...services.tools,
    admins: new Set(config.CAPSULE_ADMIN_OWNERS),
    ...(config.CAPSULE_TRACE_URL_TEMPLATE ? { traceUrlTemplate: config.CAPSULE_TRACE_URL_TEMPLATE } : {}),
  });
  const httpServer = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.CAPSULE_PORT, config.CAPSULE_HOST, () => resolve(s));
    s.once('error', reject);
    s.maxConnections = config.CAPSULE_MAX_CONNECTIONS;
  });
  // Node closes an idle keep-alive socket after 5 s; a client reusing it at that moment (undici
  // keeps it 4 s, and a loaded event loop eats the margin) got "other side closed" on its POST: 4 of
  // 4 stress runs (32 clients x 3 echo calls x 3 rounds) failed so, 0 of 2 with 65 s.
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;
  let httpClosed: Promise<void> = Promise.resolve();
  const transport: Transport = {
    stopAccepting: () => {
      httpClosed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
    },
    close: async () => {
      await sessions.closeAll();
      // Give answered requests a moment to flush, then cut whatever is left (idle SSE streams).
      const drained = await Promise.race([httpClosed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref())]);
      if (!drained) httpServer.closeAllConnections();
    },
  };
  const { port } = httpServer.address() as AddressInfo;
  const host = config.CAPSULE_HOST.includes(':') ? `[${config.CAPSULE_HOST}]` : config.CAPSULE_HOST;
  return { transport, url: `http://${host}:${port}/mcp` };
}
