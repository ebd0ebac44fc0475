import test from 'ava';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { requireEngine } from '../helpers/engine.js';
import { startSink } from '../helpers/http-sink.js';
import { httpClient } from '../helpers/mcp-client.js';
import { startServer } from '../helpers/server-process.js';

test.before(requireEngine);

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}

/** Spans from OTLP/HTTP JSON export requests (the exporter's transformer output, parsed as JSON). */
function spansOf(bodies: Buffer[]): OtlpSpan[] {
  return bodies.flatMap((b) => {
    const req = JSON.parse(b.toString('utf8')) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> };
    return req.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
  });
}
const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? (v['stringValue'] ?? v['intValue'] ?? v['boolValue'] ?? v['arrayValue']) : undefined;
};

test('OTLP: one run_command produces the span tree, continues the caller\'s trace, and leaks no argument values; metrics are exported', async (t) => {
  const sink = await startSink();
  const server = await startServer({
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_BSP_SCHEDULE_DELAY: '200',
    OTEL_METRIC_EXPORT_INTERVAL: '500',
  });
  try {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const { call, client } = await httpClient(server.url, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    const secret = 'SECRET_VALUE_4711';
    const r = await call<{ run_id: string }>('run_command', { command: `echo ${secret}`, env: { TOKEN: secret } });
    await sink.waitFor((rec) => spansOf(rec.filter((x) => x.path === '/v1/traces').map((x) => x.body)).some((s) => s.name === 'sandbox.remove'));
    const traceBodies = sink.received.filter((x) => x.path === '/v1/traces');
    const spans = spansOf(traceBodies.map((x) => x.body));
    const tool = spans.find((s) => s.name === 'mcp.tool.run_command');
    t.truthy(tool, spans.map((s) => s.name).join(', '));
    t.is(tool!.traceId, traceId, 'the incoming W3C traceparent is continued');
    t.is(attr(tool!, 'mcp.tool.name'), 'run_command');
    t.is(attr(tool!, 'capsule.run_id'), r.s.run_id);
    t.is(attr(tool!, 'capsule.profile'), 'default');
    t.is(attr(tool!, 'capsule.status'), 'exited');
    t.is(String(attr(tool!, 'capsule.exit_code')), '0');
    t.is(attr(tool!, 'capsule.owner'), 'local');
    t.truthy(attr(tool!, 'mcp.session.id'));
    for (const stage of ['sandbox.queue', 'sandbox.create', 'sandbox.start', 'sandbox.wait', 'sandbox.remove']) {
      const child = spans.find((s) => s.name === stage && s.traceId === traceId);
      t.truthy(child, `${stage} span`);
      t.is(child?.parentSpanId, tool!.spanId, `${stage} is a child of the tool span`);
    }
    t.true(spans.some((s) => s.traceId === traceId && /POST/.test(s.name)), 'an HTTP server span for POST /mcp');
    t.false(traceBodies.some((x) => x.body.includes(secret)), 'no argument value reaches the traces');

    await sink.waitFor((rec) => rec.some((x) => x.path === '/v1/metrics' && x.body.includes('mcp.tool.calls') && x.body.includes('capsule.container.start.duration')));
    const metricsText = sink.received.filter((x) => x.path === '/v1/metrics').map((x) => x.body.toString()).join('\n');
    for (const name of ['mcp.tool.duration', 'mcp.tool.calls', 'capsule.runs.active', 'mcp.sessions.active', 'capsule.container.start.duration', 'process.memory.rss', 'nodejs.eventloop.delay.p99']) {
      t.true(metricsText.includes(`"${name}"`), `metric ${name} exported`);
    }
    await client.close();
  } finally {
    await server.stop();
    await sink.close();
  }
});

test('/metrics is Prometheus text; mcp_tool_calls goes up', async (t) => {
  const server = await startServer();
  try {
    const { call, client } = await httpClient(server.url);
    const read = async () => {
      const families = parsePrometheusTextFormat(await (await fetch(`${server.base}/metrics`)).text()) as Array<{ name: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> }>;
      const calls = families.find((f) => f.name === 'mcp_tool_calls_total' || f.name === 'mcp_tool_calls');
      return (calls?.metrics ?? []).filter((m) => m.labels?.['tool'] === 'list_profiles').reduce((n, m) => n + Number(m.value ?? 0), 0);
    };
    await call('list_profiles');
    const before = await read();
    await call('list_profiles');
    await call('list_profiles');
    t.is(await read(), before + 2);
    await client.close();
  } finally {
    await server.stop();
  }
});

test('Jaeger exporter: spans reach a local collector endpoint', async (t) => {
  const sink = await startSink();
  const server = await startServer({ OTEL_TRACES_EXPORTER: 'jaeger', OTEL_EXPORTER_JAEGER_ENDPOINT: `${sink.url}/api/traces`, OTEL_BSP_SCHEDULE_DELAY: '200' });
  try {
    const { call, client } = await httpClient(server.url);
    await call('run_command', { command: 'echo jaeger' });
    await sink.waitFor((rec) => rec.some((x) => x.path.startsWith('/api/traces') && x.body.includes('mcp.tool.run_command')));
    const hit = sink.received.find((x) => x.path.startsWith('/api/traces') && x.body.includes('mcp.tool.run_command'));
    t.truthy(hit, `requests: ${sink.received.map((x) => x.path).join(', ')}`);
    t.regex(hit?.contentType ?? '', /thrift/);
    await client.close();
  } finally {
    await server.stop();
    await sink.close();
  }
});
