import { metrics, type ObservableResult } from '@opentelemetry/api';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const meter = metrics.getMeter('capsule');

/** Capsule's metrics instruments (no-ops until the SDK is started). */
export const capsuleMetrics = {
  toolDuration: meter.createHistogram('mcp.tool.duration', { unit: 'ms', description: 'Duration of MCP tool calls, by tool and status.' }),
  toolCalls: meter.createCounter('mcp.tool.calls', { description: 'MCP tool calls, by tool.' }),
  toolErrors: meter.createCounter('mcp.tool.errors', { description: 'Failed MCP tool calls, by tool and error type.' }),
  runsActive: meter.createUpDownCounter('capsule.runs.active', { description: 'Sandbox runs in flight.' }),
  sessionsActive: meter.createUpDownCounter('mcp.sessions.active', { description: 'Open MCP sessions.' }),
  containerStart: meter.createHistogram('capsule.container.start.duration', { unit: 'ms', description: 'From the decision to run to the program started (cold: create+start; pooled: job handed over).' }),
  timeouts: meter.createCounter('capsule.runs.timeouts', { description: 'Runs ended by their wall-time limit.' }),
  oomKills: meter.createCounter('capsule.runs.oom_kills', { description: 'Runs ended by the out-of-memory killer.' }),
  egressDenied: meter.createCounter('capsule.egress.denied', { description: 'Requests the egress proxy refused, by profile and reason (not_allowed, method, destination, host_mismatch, not_http, auth).' }),
  egressProxyRestarts: meter.createCounter('capsule.egress.proxy_restarts', { description: 'Times the egress proxy was re-created after it stopped or turned unhealthy.' }),
  policyDenials: meter.createCounter('capsule.policy.denials', { description: 'Commands and programs refused by a profile command policy, by profile, input (command, code) and rule (deny, allow, size).' }),
};

let gaugesStarted = false;

/** Register the observable gauges: server memory, event-loop delay, and (given) pool sizes. */
export function startRuntimeGauges(poolSizes?: () => Array<{ profile: string; engine: string; idle: number }>): void {
  if (gaugesStarted) return;
  gaugesStarted = true;
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  meter.createObservableGauge('process.memory.rss', { unit: 'By', description: 'Resident set size of the server.' }).addCallback((r: ObservableResult) => {
    r.observe(process.memoryUsage().rss);
  });
  meter.createObservableGauge('process.memory.heap_used', { unit: 'By', description: 'V8 heap in use.' }).addCallback((r: ObservableResult) => {
    r.observe(process.memoryUsage().heapUsed);
  });
  meter.createObservableGauge('nodejs.eventloop.delay.p99', { unit: 'ms', description: 'Event-loop delay, 99th percentile since the last reading.' }).addCallback((r: ObservableResult) => {
    r.observe(loop.percentile(99) / 1e6);
    loop.reset();
  });
  if (poolSizes) {
    meter.createObservableGauge('capsule.pool.idle', { description: 'Idle warm containers, by profile and engine.' }).addCallback((r: ObservableResult) => {
      for (const { profile, engine, idle } of poolSizes()) r.observe(idle, { profile, engine });
    });
  }
}
