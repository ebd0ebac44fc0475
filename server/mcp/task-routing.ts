import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { ToolCallback } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { CallToolRequestSchema, type CallToolResult, ErrorCode, McpError, type ServerNotification, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { asCapsuleError, InvalidInputError, toMcpError } from '../errors.js';
import type { TaskCalls } from './task-calls.js';
import { markTaskCall, type TaskCallMark, taskCallOf } from './task-marks.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
type AnyCallback = (...args: unknown[]) => ReturnType<ToolCallback>;
type CallHandler = (request: { params: { name: string; task?: unknown } }, extra: Extra) => Promise<Record<string, unknown>>;

// Why sessions route task calls themselves: the SDK answers a plain call of an `optional` task tool
// with its automatic task polling (a task record, and a wait of a poll interval, per plain call), and
// only tools/call's handler sees whether the request carried `task`. So a session registers task
// tools as plain tools, and the handler the SDK installs for tools/call is wrapped: a call with `task`
// reaches the tool marked (taskCallOf), and one that made no task becomes a JSON-RPC error, since an
// isError result is no answer to a task-augmented request.

/**
 * Wrap tools/call's handler when the SDK installs it (at the first registerTool: the session's options
 * leave `tools` out of the capabilities so the constructor does not). Returns the function that ends
 * the interception once the tools are registered; it throws if the SDK never installed the handler.
 */
export function routeTaskCalls(server: Server, tools: ReadonlyMap<string, { task: boolean }>): () => void {
  const own = server.setRequestHandler.bind(server);
  let routed = false;
  const intercept = ((schema: unknown, handler: CallHandler) => {
    if (schema !== CallToolRequestSchema) return (own as (s: unknown, h: unknown) => void)(schema, handler);
    routed = true;
    return (own as (s: unknown, h: CallHandler) => void)(schema, taskAware(handler, tools));
  }) as Server['setRequestHandler'];
  Object.defineProperty(server, 'setRequestHandler', { value: intercept, configurable: true, writable: true });
  return () => {
    delete (server as { setRequestHandler?: unknown }).setRequestHandler;
    if (!routed) throw new Error('the SDK installed no tools/call handler while the tools were registered: task calls cannot be routed');
  };
}

function taskAware(handler: CallHandler, tools: ReadonlyMap<string, { task: boolean }>): CallHandler {
  return async (request, extra) => {
    if (request.params.task === undefined) return handler(request, extra);
    const { name } = request.params;
    const tool = tools.get(name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Tool ${name} not found`);
    // The spec's answer for a task call of a tool whose taskSupport is "forbidden".
    if (!tool.task) throw new McpError(ErrorCode.MethodNotFound, `tool ${name} cannot run as a task (execution.taskSupport is "forbidden"): call it without "task"`);
    const mark: TaskCallMark = {};
    const result = await handler(request, markTaskCall(extra, mark));
    if ('task' in result) return result;
    // No task was made: an input the SDK refused (its message is the result's text), or a refusal of ours.
    const text = ((result as CallToolResult).content?.[0] as { text?: string } | undefined)?.text ?? 'the task was not created';
    throw toMcpError(mark.refusal ?? new InvalidInputError(text));
  };
}

/**
 * The one handler of a task-capable tool: its body for a plain call, and for a call with `task` the
 * body started as a task (a refusal, such as busy, is kept on the mark for the router to answer with).
 */
export function taskCapable(tasks: TaskCalls, body: AnyCallback, hasInput: boolean): AnyCallback {
  return async (...args: unknown[]) => {
    const extra = args[args.length - 1] as Extra;
    const mark = taskCallOf(extra);
    if (!mark) return body(...args);
    const call = (e: Extra) => (hasInput ? body(args[0], e) : body(e)) as Promise<CallToolResult>;
    try {
      return (await tasks.start(call, extra)) as unknown as CallToolResult;
    } catch (err) {
      mark.refusal = asCapsuleError(err);
      throw err;
    }
  };
}
