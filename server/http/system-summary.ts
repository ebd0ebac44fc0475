import type { MetricReader } from '@opentelemetry/sdk-metrics';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { SystemSummary } from '../schemas/dashboard.js';
import type { SystemInfo } from '../schemas/system-outputs.js';
import type { RunViews } from '../store/run-views.js';
import { CAPSULE_VERSION } from '../version.js';
import type { McpSessions } from './mcp-sessions.js';
import type { Viewer } from './viewer.js';

export interface SystemSummaryDeps {
  sandbox: SandboxService;
  views: RunViews;
  sessions: Pick<McpSessions, 'size' | 'byOwner'>;
  /** The server's own metric reader (the Prometheus exporter behind /metrics), when telemetry runs. */
  metrics?: MetricReader;
}

/** Failed tool calls by tool and error type, read from the mcp.tool.errors counter the server already keeps. */
async function toolErrors(reader: MetricReader): Promise<SystemSummary['tool_errors']> {
  const { resourceMetrics } = await reader.collect();
  const out: NonNullable<SystemSummary['tool_errors']> = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== 'mcp.tool.errors') continue;
      for (const point of metric.dataPoints) {
        const value = typeof point.value === 'number' ? point.value : 0;
        if (value > 0) out.push({ tool: String(point.attributes['tool'] ?? ''), type: String(point.attributes['error.type'] ?? ''), count: value });
      }
    }
  }
  return out.sort((a, b) => b.count - a.count);
}

/** The engine as the dashboard lists it: reachable and ready, with its facts when it answered. */
function engines(ready: { ready: boolean; reason?: string }, info: SystemInfo | null): SystemSummary['engines'] {
  const e = info?.engine;
  return [
    {
      name: 'default',
      endpoint: e?.endpoint ?? null,
      ready: ready.ready,
      reason: ready.ready ? null : (ready.reason ?? 'not ready'),
      version: e?.version ?? null,
      api_version: e?.api_version ?? null,
      os: e?.os ?? null,
      kernel: e?.kernel ?? null,
      cgroup_version: e?.cgroup_version ?? null,
      runtimes: e?.runtimes ?? [],
    },
  ];
}

/**
 * GET /v1/system: engine health, warm pools, sessions, runs per minute and errors by type, from state
 * the server keeps anyway (readiness, system_info's cached engine facts, the run store, the session
 * table, the metrics reader). Run counts are the viewer's own unless they are an admin.
 */
export async function systemSummary(deps: SystemSummaryDeps, viewer: Viewer): Promise<SystemSummary> {
  const { sandbox, views, sessions } = deps;
  const [ready, info, errors] = await Promise.all([
    sandbox.engine.readiness(),
    sandbox.engine.systemInfo().catch(() => null),
    deps.metrics ? toolErrors(deps.metrics).catch(() => null) : Promise.resolve(null),
  ]);
  const scope = viewer.admin ? null : viewer.owner;
  const byOwner = sessions.byOwner();
  return {
    capsule_version: CAPSULE_VERSION,
    instance_id: info?.instance_id ?? '',
    engines: engines(ready, info),
    host: info?.host ?? null,
    pools: ready.pool,
    runs: info?.runs ?? { active: 0, queued: 0, max_concurrent: 0 },
    sessions: { total: sessions.size, yours: byOwner[viewer.owner] ?? 0, by_owner: viewer.admin ? byOwner : null },
    scope: viewer.admin ? 'all' : 'own',
    runs_per_minute: views.startedPerMinute(scope, 30),
    outcomes_last_hour: views.outcomesSince(scope, 3_600_000),
    tool_errors: errors,
    disk_quota: info?.disk_quota ?? (await sandbox.engine.diskQuota()),
  };
}
