import type { McpServer, ReadResourceCallback, ReadResourceTemplateCallback, RegisteredTool, ResourceMetadata, ResourceTemplate, ToolCallback } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AnySchema, ZodRawShapeCompat } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { type Attributes, SpanKind } from '@opentelemetry/api';
import { asCapsuleError, toToolErrorResult } from '../errors.js';
import { capsuleMetrics } from '../telemetry/metrics.js';
import { contextFromMeta, recordError, tracer } from '../telemetry/tracing.js';
import type { ProcessManager } from '../sandbox/processes/process-manager.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { RunStore } from '../store/run-store.js';
import type { Workspaces } from '../sandbox/workspaces/workspace-service.js';
import type { ProfilingService } from '../profiling/profiling-service.js';
import type { SelfProfiler } from '../profiling/self-profiler.js';
import type { ArtifactStore } from '../store/artifact-store.js';
import type { CodeGenerator } from '../devtools/code-generator.js';
import type { Calculator } from '../devtools/calculator.js';
import type { ContextStore } from '../devtools/context-store.js';
import type { DevToolsService } from '../devtools/devtools-service.js';
import type { ModelClient } from '../devtools/model-client.js';
import type { SessionContext } from './session-state.js';
import type { TaskCalls } from './task-calls.js';

export type { SessionContext, SessionState } from './session-state.js';

/** What tools may call: services only, never the runtime. */
export interface ToolDeps {
  sandbox: SandboxService;
  processes: ProcessManager;
  store: RunStore;
  workspaces: Workspaces;
  profiling: ProfilingService;
  selfProfiler: SelfProfiler;
  artifacts: ArtifactStore;
  devtools: DevToolsService;
  codegen: CodeGenerator;
  context: ContextStore;
  /** mathjs in a bounded worker thread (the calculate tool). */
  calculator: Calculator;
  /** The server's own model (CAPSULE_MODEL_URL/CAPSULE_MODEL), when configured. */
  modelClient: ModelClient | null;
  /** Tool calls made as MCP tasks (tasks/get, tasks/result, tasks/list, tasks/cancel). */
  tasks: TaskCalls;
  log: Logger;
  /** CAPSULE_PROFILE_TOOLS: record a server CPU profile of every tool call (when no other profile runs). */
  profileTools?: boolean;
}

/**
 * Where registrars register, once per process: the SDK's own `registerTool`, and resource templates.
 * ToolCatalog replays the registrations on every session's McpServer.
 */
export interface ToolHost {
  registerTool: McpServer['registerTool'];
  /**
   * A tool that may also be called as an MCP task (`execution.taskSupport: 'optional'`): a plain call
   * runs `cb` as registerTool's would; a call with `task` gets a task at once while `cb` runs on (see
   * TaskCalls). `cb` is the tool's one body for both.
   */
  registerToolTask<OutputArgs extends ZodRawShapeCompat | AnySchema, InputArgs extends undefined | ZodRawShapeCompat | AnySchema = undefined>(
    name: string,
    config: {
      title?: string;
      description?: string;
      inputSchema?: InputArgs;
      outputSchema?: OutputArgs;
      annotations?: ToolAnnotations;
      _meta?: Record<string, unknown>;
      execution: { taskSupport: 'optional' };
    },
    cb: ToolCallback<InputArgs>,
  ): RegisteredTool;
  registerResource(name: string, template: ResourceTemplate, metadata: ResourceMetadata, read: ReadResourceTemplateCallback): void;
  /** A resource at one fixed URI (the MCP App's ui:// page). */
  registerResource(name: string, uri: string, metadata: ResourceMetadata, read: ReadResourceCallback): void;
}

/** Registers tools once for every session; per-session state is `session.of(extra)` at call time. */
export type ToolRegistrar = (server: ToolHost, deps: ToolDeps, session: SessionContext) => void;

interface CallExtra {
  sessionId?: string;
  authInfo?: { clientId?: string };
  _meta?: Record<string, unknown>;
}

/** Argument names and total size for spans: never the values (no code, env values or tokens). */
function argumentShape(args: unknown): Attributes {
  if (!args || typeof args !== 'object') return {};
  return { 'mcp.tool.argument_keys': Object.keys(args).sort(), 'mcp.tool.arguments_bytes': JSON.stringify(args).length };
}

/** What a tool result tells about the run, for the span. */
function resultAttributes(result: CallToolResult): Attributes {
  const s = result.structuredContent as Record<string, unknown> | undefined;
  const attrs: Attributes = {};
  if (typeof s?.['run_id'] === 'string') attrs['capsule.run_id'] = s['run_id'];
  const profile = typeof s?.['profile'] === 'string' ? s['profile'] : s?.['sandbox_profile'];
  if (typeof profile === 'string') attrs['capsule.profile'] = profile;
  if (typeof s?.['status'] === 'string') attrs['capsule.status'] = s['status'];
  if (typeof s?.['exit_code'] === 'number') attrs['capsule.exit_code'] = s['exit_code'];
  return attrs;
}

/**
 * Wrap a tool body: one span `mcp.tool.<name>` (parented on the request's `_meta.traceparent` when
 * sent), the tool metrics, and every thrown error turned into an `isError` result through the one
 * mapper and logged once here, at the boundary (code and message only; never arguments).
 */
export function guarded<A extends unknown[]>(
  tool: string,
  deps: Pick<ToolDeps, 'log' | 'selfProfiler' | 'profileTools'>,
  body: (...args: A) => Promise<CallToolResult>,
): (...args: A) => Promise<CallToolResult> {
  const { log } = deps;
  return async (...args: A) => {
    const extra = (args.length > 1 ? args[1] : args[0]) as CallExtra | undefined;
    const input = args.length > 1 ? args[0] : undefined;
    const started = performance.now();
    const attributes: Attributes = {
      'mcp.tool.name': tool,
      ...(extra?.sessionId ? { 'mcp.session.id': extra.sessionId } : {}),
      'capsule.owner': extra?.authInfo?.clientId ?? 'local',
      ...argumentShape(input),
    };
    const parent = contextFromMeta(extra?._meta);
    return tracer.startActiveSpan(`mcp.tool.${tool}`, { kind: SpanKind.SERVER, attributes }, parent, async (span) => {
      // Profile this call when asked to and the profiler is free; overlapping calls are not profiled.
      const profiled = deps.profileTools && !deps.selfProfiler.running ? await deps.selfProfiler.start('capsule-tools', `tool ${tool}`).catch(() => null) : null;
      let status = 'ok';
      try {
        const result = await body(...args);
        span.setAttributes(resultAttributes(result));
        if (result.isError) status = 'failed_run';
        return result;
      } catch (err) {
        const e = asCapsuleError(err);
        status = 'error';
        recordError(span, e);
        capsuleMetrics.toolErrors.add(1, { tool, 'error.type': e.code });
        log[e.httpStatus >= 500 ? 'error' : 'info']({ tool, code: e.code, err: e.httpStatus >= 500 ? err : undefined }, `tool call failed: ${e.message}`);
        return toToolErrorResult(e);
      } finally {
        span.setAttribute('capsule.call_status', status);
        span.end();
        capsuleMetrics.toolCalls.add(1, { tool });
        capsuleMetrics.toolDuration.record(performance.now() - started, { tool, status });
        if (profiled) {
          const report = await deps.selfProfiler.stop('capsule-tools').catch(() => null);
          if (report) log.info({ tool, profile_id: report.profile_id, samples: report.samples }, 'tool call profiled');
        }
      }
    });
  };
}

type ObjectPart<T> = Exclude<Extract<T, object>, readonly unknown[]>;
type ElementOf<T> = Extract<T, readonly unknown[]>[number];

/**
 * `V` with every key that `T` lacks, at any depth, turned into `never`: a value typed `V & Exactly<T, V>`
 * fails to compile when it carries a key its schema does not declare. (A plain `T` would accept it:
 * TypeScript checks excess keys only on fresh object literals, not on spreads or variables.)
 */
export type Exactly<T, V> = unknown extends T
  ? V
  : V extends readonly (infer E)[]
    ? Exactly<ElementOf<T>, E>[]
    : V extends object
      ? { [K in keyof V]: K extends keyof ObjectPart<T> ? Exactly<ObjectPart<T>[K], V[K]> : never }
      : V;

/**
 * A tool result whose structured content is typed by the tool's outputSchema: a missing key, a wrong
 * type or a key the schema does not declare fails to compile. Text defaults to the JSON itself.
 */
export function structuredResult<S extends z.ZodObject, V extends z.infer<S>>(_schema: S, value: V & Exactly<z.infer<S>, V>, text?: string): CallToolResult {
  return { content: [{ type: 'text', text: text ?? JSON.stringify(value, null, 2) }], structuredContent: value };
}
