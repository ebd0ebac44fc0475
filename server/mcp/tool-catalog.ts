import { InMemoryTaskMessageQueue } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import type { ToolTaskHandler } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { ServerOptions } from '@modelcontextprotocol/sdk/server/index.js';
import {
  McpServer,
  type ReadResourceCallback,
  type ReadResourceTemplateCallback,
  type RegisteredTool,
  type ResourceMetadata,
  type ResourceTemplate,
  type ToolCallback,
} from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AnySchema } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import {
  type Implementation,
  type JSONRPCMessage,
  ListToolsRequestSchema,
  type ListToolsResult,
  type ServerNotification,
  type ServerRequest,
  SetLevelRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { InternalError } from '../errors.js';
import { SessionLogLevel } from './session-log-level.js';
import { sessionContext, type SessionContext, type SessionState, withSession } from './session-state.js';
import type { TaskCalls } from './task-calls.js';
import { routeTaskCalls, taskCapable } from './task-routing.js';
import type { ToolHost } from './tool-context.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type AnyCallback = (...args: unknown[]) => ReturnType<ToolCallback>;

interface CatalogTool {
  name: string;
  /** As registerTool takes it, with the schemas already normalised by the SDK (raw shapes become z.object once). */
  config: { title?: string; description?: string; inputSchema?: AnySchema; outputSchema?: AnySchema; annotations?: RegisteredTool['annotations']; _meta?: Record<string, unknown> };
  handler: AnyCallback;
  /** Registered with registerToolTask: may be called as an MCP task (handler is then taskCapable). */
  task: boolean;
}

// Server-to-client requests a task queues for tasks/result (generate_code's sampling: one at a time).
const MAX_TASK_QUEUE = 16;

type CatalogResource =
  | { name: string; template: ResourceTemplate; metadata: ResourceMetadata; read: ReadResourceTemplateCallback }
  | { name: string; uri: string; metadata: ResourceMetadata; read: ReadResourceCallback };

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The SDK's own tools/list answer of `template`, asked once over an in-memory pipe: exactly what a session would list. */
async function listOnce(template: McpServer): Promise<ListToolsResult> {
  const [client, server] = InMemoryTransport.createLinkedPair();
  const answer = new Promise<JSONRPCMessage>((resolve) => (client.onmessage = resolve));
  await template.connect(server);
  await client.send({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
  const message = await answer;
  await template.close();
  if (!('result' in message)) throw new Error(`listing the tools failed: ${JSON.stringify(message)}`);
  // Shared by every session's answer: frozen so no code path can change one session's list for all.
  return deepFreeze(message.result as ListToolsResult);
}

/**
 * Every tool and resource, registered once per process, and a cheap McpServer per session.
 *
 * Measured with 300 sessions (node --expose-gc, heap deltas): one McpServer with every tool
 * registered cost ~470 KB, ~530 KB after a tools/list: ~350 KB were the zod schemas the registrars
 * build, ~78 KB the z.object wrappers the SDK makes of raw shapes, ~20 KB what zod keeps after a
 * JSON Schema conversion, ~18 KB the Ajv instance every SDK Server creates. Here the registrars run
 * once against a template McpServer; a session's McpServer re-registers the same (normalised) schemas
 * and handlers, answers tools/list with the list computed once, and shares one Ajv instance (the
 * server only uses it to check elicitation answers, which Capsule never asks for). Validation, error
 * results and output checks stay the SDK's own tools/call path. An idle session now costs ~33 KB of
 * heap, ~40 KB of RSS (bench/sessions.ts, 500 sessions on the real server; ~2.7 KB of it the task
 * store view, task message queue and task request handlers each session's Protocol gets).
 */
export class ToolCatalog {
  private readonly tools: CatalogTool[] = [];
  private readonly resources: CatalogResource[] = [];
  private readonly sessionOptions: ServerOptions;
  private readonly toolList: Promise<ListToolsResult>;
  private readonly routes = new Map<string, { task: boolean }>();

  constructor(
    private readonly info: Implementation,
    options: ServerOptions,
    register: (host: ToolHost, session: SessionContext) => void,
    private readonly tasks: TaskCalls,
  ) {
    const validator = new AjvJsonSchemaValidator();
    // Without `tools` the SDK installs tools/call at the first registerTool, where routeTaskCalls wraps it.
    const { tools: _tools, ...capabilities } = options.capabilities ?? {};
    this.sessionOptions = { ...options, capabilities, jsonSchemaValidator: validator };
    const template = new McpServer(info, { ...options, jsonSchemaValidator: validator });
    const record = (name: string, tool: RegisteredTool, handler: AnyCallback, task: boolean) => {
      const { title, description, inputSchema, outputSchema, annotations, _meta } = tool;
      this.tools.push({ name, config: { title, description, inputSchema, outputSchema, annotations, _meta }, handler, task });
      this.routes.set(name, { task });
    };
    const host: ToolHost = {
      registerTool: (name, config, cb) => {
        const tool = template.registerTool(name, config, cb);
        record(name, tool, tool.handler as AnyCallback, false);
        return tool;
      },
      registerToolTask: (name, config, cb) => {
        const handler = taskCapable(tasks, cb as AnyCallback, config.inputSchema !== undefined);
        // The template lists the tool with execution.taskSupport as the SDK does; sessions route its calls (task-routing.ts).
        const tool = template.experimental.tasks.registerToolTask(name, config as typeof config & { inputSchema: AnySchema }, TEMPLATE_TASK_HANDLER);
        record(name, tool, handler, true);
        return tool;
      },
      registerResource: (name: string, target: ResourceTemplate | string, metadata: ResourceMetadata, read: ReadResourceTemplateCallback | ReadResourceCallback) => {
        const resource: CatalogResource =
          typeof target === 'string' ? { name, uri: target, metadata, read: read as ReadResourceCallback } : { name, template: target, metadata, read: read as ReadResourceTemplateCallback };
        registerOn(template, resource);
        this.resources.push(resource);
      },
    };
    register(host, sessionContext);
    this.toolList = listOnce(template);
    // A failure shows on every tools/list; this keeps it from also being an unhandled rejection.
    this.toolList.catch(() => undefined);
  }

  /**
   * A new McpServer for one session of `owner` (or the stdio connection), with its own log level,
   * client capabilities and view of the owner's tasks.
   */
  createServer(owner = 'local'): McpServer {
    const mcp = new McpServer(this.info, { ...this.sessionOptions, taskStore: this.tasks.storeFor(owner), taskMessageQueue: new InMemoryTaskMessageQueue(), maxTaskQueueSize: MAX_TASK_QUEUE });
    const state: SessionState = {
      owner,
      logLevel: new SessionLogLevel(),
      clientCapabilities: () => mcp.server.getClientCapabilities(),
      notify: (notification) => mcp.server.notification(notification),
    };
    const routed = routeTaskCalls(mcp.server, this.routes);
    for (const tool of this.tools) mcp.registerTool(tool.name, tool.config, bindToSession(tool, state));
    routed();
    for (const r of this.resources) registerOn(mcp, r);
    mcp.server.setRequestHandler(ListToolsRequestSchema, () => this.toolList);
    // The SDK keeps the level privately; Capsule keeps its own per session so live output can honour
    // it while sending on the request's own stream.
    mcp.server.setRequestHandler(SetLevelRequestSchema, async (request) => {
      state.logLevel.set(request.params.level);
      return {};
    });
    return mcp;
  }
}

function registerOn(server: McpServer, r: CatalogResource): void {
  if ('uri' in r) server.registerResource(r.name, r.uri, r.metadata, r.read);
  else server.registerResource(r.name, r.template, r.metadata, r.read);
}

/** The template only answers tools/list; its task tools are called on sessions, through their own handler. */
const TEMPLATE_TASK_HANDLER: ToolTaskHandler<AnySchema> = {
  createTask: () => Promise.reject(new InternalError('the catalog template serves tools/list only')),
  getTask: () => Promise.reject(new InternalError('the catalog template serves tools/list only')),
  getTaskResult: () => Promise.reject(new InternalError('the catalog template serves tools/list only')),
};

/** The shared handler, called with the session attached to its extra (the SDK calls it with args only when the tool has an input schema). */
function bindToSession(tool: CatalogTool, state: SessionState): ToolCallback<AnySchema> {
  const { handler } = tool;
  const bound = tool.config.inputSchema
    ? (args: unknown, extra: Extra) => handler(args, withSession(extra, state))
    : (extra: Extra) => handler(withSession(extra, state));
  return bound as ToolCallback<AnySchema>;
}
