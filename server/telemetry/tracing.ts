import { type Attributes, context, propagation, type Span, SpanStatusCode, trace } from '@opentelemetry/api';

export const tracer = trace.getTracer('capsule');

/**
 * Run `fn` inside a child span named `name`: exceptions are recorded and set the span's status;
 * the span always ends. Without a registered SDK this is a no-op.
 */
export async function withSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Mark a span as failed with the error's type and message (never its arguments). */
export function recordError(span: Span, err: unknown): void {
  const e = err instanceof Error ? err : new Error(String(err));
  span.recordException(e);
  span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
  span.setAttribute('error.type', (err as { code?: string }).code ?? e.name);
}

/** The context to parent a span on: an MCP request's `_meta.traceparent` when the client sent one, else the active one. */
export function contextFromMeta(meta: Record<string, unknown> | undefined) {
  const traceparent = meta?.['traceparent'];
  if (typeof traceparent !== 'string') return context.active();
  const carrier: Record<string, string> = { traceparent };
  if (typeof meta?.['tracestate'] === 'string') carrier['tracestate'] = meta['tracestate'] as string;
  return propagation.extract(context.active(), carrier);
}

/** trace_id and span_id of the active span, for log lines. */
export function activeTraceIds(): { trace_id?: string; span_id?: string } {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && trace.isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
}
