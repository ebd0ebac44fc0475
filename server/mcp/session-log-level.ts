import type { LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import { LoggingLevelSchema } from '@modelcontextprotocol/sdk/types.js';

const SEVERITY = new Map(LoggingLevelSchema.options.map((level, index) => [level, index]));

/** The `logging/setLevel` of one MCP session (one McpServer per session); unset means everything. */
export class SessionLogLevel {
  private level: LoggingLevel | undefined;

  set(level: LoggingLevel): void {
    this.level = level;
  }

  /** True when a message of `level` is below what the client asked for. */
  ignores(level: LoggingLevel): boolean {
    return this.level !== undefined && SEVERITY.get(level)! < SEVERITY.get(this.level)!;
  }
}
