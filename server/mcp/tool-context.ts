import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { asCapsuleError, toToolErrorResult } from '../errors.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';

/** What tools may call: services only, never the runtime. */
export interface ToolDeps {
  sandbox: SandboxService;
  log: Logger;
}

export type ToolRegistrar = (server: McpServer, deps: ToolDeps) => void;

/**
 * Wrap a tool body so every thrown error becomes an `isError` result through the one mapper, and is
 * logged once here, at the boundary (code and message only; never arguments).
 */
export function guarded<A extends unknown[]>(
  tool: string,
  log: Logger,
  body: (...args: A) => Promise<CallToolResult>,
): (...args: A) => Promise<CallToolResult> {
  return async (...args: A) => {
    try {
      return await body(...args);
    } catch (err) {
      const e = asCapsuleError(err);
      log[e.httpStatus >= 500 ? 'error' : 'info']({ tool, code: e.code, err: e.httpStatus >= 500 ? err : undefined }, `tool call failed: ${e.message}`);
      return toToolErrorResult(e);
    }
  };
}
