import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { asCapsuleError, toToolErrorResult } from '../errors.js';
import type { ProcessManager } from '../sandbox/process-manager.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { RunStore } from '../store/run-store.js';
import type { WorkspaceService } from '../sandbox/workspace-service.js';
import type { SessionLogLevel } from './session-log-level.js';

/** What tools may call: services only, never the runtime. */
export interface ToolDeps {
  sandbox: SandboxService;
  processes: ProcessManager;
  store: RunStore;
  workspaces: WorkspaceService;
  log: Logger;
}

/** State of one MCP session (one McpServer per session). */
export interface SessionContext {
  logLevel: SessionLogLevel;
}

export type ToolRegistrar = (server: McpServer, deps: ToolDeps, session: SessionContext) => void;

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

/** A JSON result: the structured content plus the same as text for clients that only read text. */
export function jsonResult(structured: Record<string, unknown>, text?: string): CallToolResult {
  return { content: [{ type: 'text', text: text ?? JSON.stringify(structured, null, 2) }], structuredContent: structured };
}
