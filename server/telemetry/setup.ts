import { JaegerExporter } from '@opentelemetry/exporter-jaeger';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { type MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, NoopSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { CAPSULE_VERSION } from '../version.js';

export interface Telemetry {
  /** Serves GET /metrics in the Prometheus text format. */
  prometheus: PrometheusExporter;
  /** Which trace exporter is active: 'otlp', 'jaeger' or 'none'. */
  traces: 'otlp' | 'jaeger' | 'none';
  shutdown(): Promise<void>;
}

const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Start OpenTelemetry before the HTTP stack is loaded (so http/express are instrumented), configured
 * by the standard OTEL_* variables: OTLP over HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces
 * endpoint) is set, Jaeger when OTEL_TRACES_EXPORTER=jaeger, otherwise no export at all (spans are
 * still created so logs carry trace ids). Export failures stay silent (OTel's diag logger is off), so a
 * collector that is down produces no error spam.
 */
export function startTelemetry(env: NodeJS.ProcessEnv = process.env): Telemetry {
  const tracesExporter = (env['OTEL_TRACES_EXPORTER'] ?? '').split(',')[0]?.trim();
  const otlpTraces = Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  const otlpMetrics = Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT']);
  let traces: Telemetry['traces'] = 'none';
  let spanProcessors: SpanProcessor[] = [new NoopSpanProcessor()];
  if (tracesExporter === 'jaeger') {
    traces = 'jaeger';
    spanProcessors = [new BatchSpanProcessor(new JaegerExporter())];
  } else if (tracesExporter !== 'none' && otlpTraces) {
    traces = 'otlp';
    spanProcessors = [new BatchSpanProcessor(new OTLPTraceExporter())];
  }
  // Prometheus serves through Capsule's own /metrics route, not a second port.
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const metricReaders: MetricReader[] = [prometheus];
  if (otlpMetrics && env['OTEL_METRICS_EXPORTER'] !== 'none') {
    metricReaders.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: Number(env['OTEL_METRIC_EXPORT_INTERVAL'] ?? 15_000) }));
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: env['OTEL_SERVICE_NAME'] ?? 'capsule', [ATTR_SERVICE_VERSION]: CAPSULE_VERSION }),
    spanProcessors,
    metricReaders,
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
        // Capsule talks to the Docker engine over HTTP too; those calls get their own sandbox.* spans.
        ignoreOutgoingRequestHook: () => true,
      }),
      new ExpressInstrumentation(),
    ],
  });
  sdk.start();
  return { prometheus, traces, shutdown: () => sdk.shutdown() };
}
