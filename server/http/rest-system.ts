import type { MetricReader } from '@opentelemetry/sdk-metrics';
import { Router } from 'express';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { RunStore } from '../store/run-store.js';
import { RunViews } from '../store/run-views.js';
import type { McpSessions } from './mcp-sessions.js';
import { handle } from './rest-errors.js';
import { systemSummary } from './system-summary.js';
import { viewerOf } from './viewer.js';

export interface SystemRouteDeps {
  sandbox: SandboxService;
  store: RunStore;
  sessions: Pick<McpSessions, 'size' | 'byOwner'>;
  admins: ReadonlySet<string>;
  /** True when the server has bearer tokens (the dashboard then asks for one). */
  tokens: boolean;
  traceUrlTemplate: string | null;
  metrics?: MetricReader;
}

/** GET /v1/whoami (who the token is, for the dashboard's sign-in) and GET /v1/system (the System page). */
export function restSystemRouter(deps: SystemRouteDeps): Router {
  const router = Router();
  const views = new RunViews(deps.store.database);
  router.get(
    '/v1/whoami',
    handle(async (req, res) => {
      const viewer = viewerOf(req, deps.admins);
      res.json({ ...viewer, auth: deps.tokens ? 'bearer' : 'none', trace_url_template: deps.traceUrlTemplate });
    }),
  );
  router.get(
    '/v1/system',
    handle(async (req, res) => {
      const summaryDeps = { sandbox: deps.sandbox, views, sessions: deps.sessions, ...(deps.metrics ? { metrics: deps.metrics } : {}) };
      res.json(await systemSummary(summaryDeps, viewerOf(req, deps.admins)));
    }),
  );
  return router;
}
