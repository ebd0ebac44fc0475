import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { asCapsuleError, toToolErrorResult } from '../errors.js';
import type { ProcessManager } from '../sandbox/process-manager.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { RunStore } from '../store/run-store.js';
import type { WorkspaceService } from '../sandbox/workspace-service.js';
import type { ProfilingService } from '../profiling/profiling-service.js';
import type { SelfProfiler } from '../profiling/self-profiler.js';
import type { ArtifactStore } from '../store/artifact-store.js';
import type { SessionLogLevel } from './session-log-level.js';

/** What tools may call: services only, never the runtime. */
export interface ToolDeps {
  sandbox: SandboxService;
  processes: ProcessManager;
  store: RunStore;
  workspaces: WorkspaceService;
  profiling: ProfilingService;
  selfProfiler: SelfProfiler;
  artifacts: ArtifactStore;
  log: Logger;
  /** CAPSULE_PROFILE_TOOLS: record a server CPU profile of every tool call (when no other profile runs). */
  profileTools?: boolean;
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
  deps: Pick<ToolDeps, 'log' | 'selfProfiler' | 'profileTools'>,
  body: (...args: A) => Promise<CallToolResult>,
): (...args: A) => Promise<CallToolResult> {
  const { log } = deps;
  return async (...args: A) => {
    // Profile this call when asked to and the profiler is free; overlapping calls are not profiled.
    const profiled = deps.profileTools && !deps.selfProfiler.running ? await deps.selfProfiler.start('capsule-tools', `tool ${tool}`).catch(() => null) : null;
    try {
      return await body(...args);
    } catch (err) {
      const e = asCapsuleError(err);
      log[e.httpStatus >= 500 ? 'error' : 'info']({ tool, code: e.code, err: e.httpStatus >= 500 ? err : undefined }, `tool call failed: ${e.message}`);
      return toToolErrorResult(e);
    } finally {
      if (profiled) {
        const report = await deps.selfProfiler.stop('capsule-tools').catch(() => null);
        if (report) log.info({ tool, profile_id: report.profile_id, samples: report.samples }, 'tool call profiled');
      }
    }
  };
}

/** A JSON result: the structured content plus the same as text for clients that only read text. */
export function jsonResult(structured: Record<string, unknown>, text?: string): CallToolResult {
  return { content: [{ type: 'text', text: text ?? JSON.stringify(structured, null, 2) }], structuredContent: structured };
}
