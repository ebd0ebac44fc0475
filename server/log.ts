import pino, { type Logger } from 'pino';

/** JSON logs on stderr (stdout carries the MCP protocol in stdio mode). */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'capsule' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));
}
