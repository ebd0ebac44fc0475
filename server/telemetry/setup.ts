import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { detectResources, envDetector, hostDetector, processDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, type MetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
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

/** The configured trace exporter, imported only when it is used (each pulls in its own transport stack). */
async function traceExporter(env: NodeJS.ProcessEnv): Promise<{ traces: Telemetry['traces']; exporter: SpanExporter | null }> {
  const chosen = (env['OTEL_TRACES_EXPORTER'] ?? '').split(',')[0]?.trim();
  if (chosen === 'jaeger') return { traces: 'jaeger', exporter: new (await import('@opentelemetry/exporter-jaeger')).JaegerExporter() };
  const otlp = Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  if (chosen !== 'none' && otlp) return { traces: 'otlp', exporter: new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter() };
  return { traces: 'none', exporter: null };
}

async function metricReaders(env: NodeJS.ProcessEnv, prometheus: PrometheusExporter): Promise<MetricReader[]> {
  const readers: MetricReader[] = [prometheus];
  const otlp = Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT']);
  if (otlp && env['OTEL_METRICS_EXPORTER'] !== 'none') {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-http');
    readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter(), exportIntervalMillis: Number(env['OTEL_METRIC_EXPORT_INTERVAL'] ?? 15_000) }));
  }
  return readers;
}

/**
 * Start OpenTelemetry before the HTTP stack is loaded (so http is instrumented), configured by the
 * standard OTEL_* variables: OTLP over HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces endpoint)
 * is set, Jaeger when OTEL_TRACES_EXPORTER=jaeger, otherwise no export at all (spans are still created
 * so logs carry trace ids). Export failures stay silent (OTel's diag logger is off), so a collector
 * that is down produces no error spam.
 *
 * The providers are built from their own packages, not the NodeSDK: the SDK imports every exporter it
 * could configure (Zipkin, Jaeger's thrift, the gRPC and protobuf exporters, logs): the idle server
 * was 4-6 MB of RSS and 4 MB of heap bigger (131 -> 126 MB RSS, 45 -> 41 MB heap, 2 runs each). Express is not instrumented: its instrumentation never saw Capsule's ESM import
 * of express (no span in any trace), and the HTTP server span already covers each request.
 */
export async function startTelemetry(env: NodeJS.ProcessEnv = process.env): Promise<Telemetry> {
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: env['OTEL_SERVICE_NAME'] ?? 'capsule', [ATTR_SERVICE_VERSION]: CAPSULE_VERSION }).merge(
    detectResources({ detectors: [envDetector, processDetector, hostDetector] }),
  );
  const { traces, exporter } = await traceExporter(env);
  const spanProcessors: SpanProcessor[] = exporter ? [new BatchSpanProcessor(exporter)] : [];
  const tracerProvider = new NodeTracerProvider({ resource, spanProcessors });
  tracerProvider.register();
  // Prometheus serves through Capsule's own /metrics route, not a second port.
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ resource, readers: await metricReaders(env, prometheus) });
  metrics.setGlobalMeterProvider(meterProvider);
  // An instrumentation enables itself when built, on the providers registered above.
  new HttpInstrumentation({
    ignoreIncomingRequestHook: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
    // Capsule talks to the Docker engine over HTTP too; those calls get their own sandbox.* spans.
    ignoreOutgoingRequestHook: () => true,
  });
  return { prometheus, traces, shutdown: async () => void (await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()])) };
}
