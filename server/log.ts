import pino, { type Logger } from 'pino';
import { activeTraceIds } from './telemetry/tracing.js';

/** JSON logs on stderr (stdout carries the MCP protocol in stdio mode), with the active trace_id and span_id. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'capsule' }, timestamp: pino.stdTimeFunctions.isoTime, mixin: activeTraceIds }, pino.destination(2));
}
