import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { OAuthTokenVerifier } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { Logger } from 'pino';
import type { Workspaces } from '../sandbox/workspaces/workspace-service.js';
import { InternalError, ParseError, PayloadTooLargeError } from '../errors.js';
import { CAPSULE_VERSION } from '../version.js';
import { sendJsonRpcError } from './json-rpc-errors.js';
import type { McpSessions } from './mcp-sessions.js';
import { openApiDocument } from './openapi.js';
import { dashboardRouter } from './dashboard-static.js';
import { restRunViewsRouter } from './rest-run-views.js';
import { type RestDeps, restRunsRouter } from './rest-runs.js';
import { restSystemRouter } from './rest-system.js';
import { restWorkspacesRouter } from './rest-workspaces.js';

export interface HttpAppDeps extends RestDeps {
  workspaces: Workspaces;
  host: string;
  allowedHosts?: string[];
  /** When set, every route but /healthz, /readyz and /openapi.json needs a valid bearer token. */
  verifier?: OAuthTokenVerifier;
  /** Serves GET /metrics (Prometheus text format). */
  prometheus?: PrometheusExporter;
  maxBodyBytes: number;
  sessions: McpSessions;
  log: Logger;
  /** CAPSULE_TRACE_URL_TEMPLATE, for the dashboard's trace links. */
  traceUrlTemplate?: string;
}

/** Malformed or oversized bodies get a JSON-RPC error, never an HTML page or a crash. */
const bodyErrors: ErrorRequestHandler = (err, _req, res, next) => {
  const type = (err as { type?: string }).type;
  if (type === 'entity.too.large') return sendJsonRpcError(res, new PayloadTooLargeError(`request body too large: ${(err as Error).message}`));
  if (type === 'entity.parse.failed') return sendJsonRpcError(res, new ParseError('parse error: the body is not valid JSON'));
  next(err);
};

/**
 * The HTTP surface: /mcp (Streamable HTTP), /v1 REST, /openapi.json, /healthz, /readyz and the /ui dashboard.
 * createMcpExpressApp gives Host-header validation (DNS-rebinding protection on loopback binds) and a
 * JSON parser capped at 100 kB; Capsule parses first with CAPSULE_MAX_BODY_BYTES and the SDK's parser
 * skips bodies already read.
 */
export function createHttpApp(deps: HttpAppDeps): Express {
  const outer = express();
  outer.disable('x-powered-by');
  outer.use(express.json({ limit: deps.maxBodyBytes }));
  outer.use(bodyErrors);

  const app = createMcpExpressApp({ host: deps.host, ...(deps.allowedHosts ? { allowedHosts: deps.allowedHosts } : {}) });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', version: CAPSULE_VERSION });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await deps.sandbox.engine.readiness();
    const pool = { pool: ready.pool, notes: ready.notes, engines: ready.engines };
    if (ready.ready) res.json({ status: 'ready', ...pool });
    else res.status(503).json({ status: 'not_ready', reason: ready.reason, ...pool });
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument());
  });
  // Static files only; the data comes from /v1 routes below, with the token.
  app.use(dashboardRouter());
  // Everything registered after this line needs a token when tokens are configured.
  if (deps.verifier) app.use(requireBearerAuth({ verifier: deps.verifier }));
  if (deps.prometheus) {
    const prometheus = deps.prometheus;
    app.get('/metrics', (req, res) => prometheus.getMetricsRequestHandler(req, res));
  }
  app.post('/mcp', deps.sessions.handle);
  app.get('/mcp', deps.sessions.handle);
  app.delete('/mcp', deps.sessions.handle);
  app.use(restRunViewsRouter(deps));
  app.use(restRunsRouter(deps));
  app.use(restWorkspacesRouter(deps.workspaces));
  app.use(
    restSystemRouter({
      ...deps,
      tokens: deps.verifier !== undefined,
      traceUrlTemplate: deps.traceUrlTemplate ?? null,
      ...(deps.prometheus ? { metrics: deps.prometheus } : {}),
    }),
  );
  const internalError: ErrorRequestHandler = (err, _req, res, _next) => {
    deps.log.error({ err }, 'unhandled HTTP error');
    if (!res.headersSent) sendJsonRpcError(res, new InternalError('internal error', { cause: err }));
  };
  app.use(internalError);
  outer.use(app);
  return outer;
}
