import type { CreateTaskResult } from '@modelcontextprotocol/sdk/experimental/tasks/types.js';
import { type CreateTaskOptions, isTerminal, type TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { RequestHandlerExtra, RequestTaskStore } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { type CallToolResult, ErrorCode, RELATED_TASK_META_KEY, type Request, type Result, type ServerNotification, type ServerRequest, type Task } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { CancelledError, NotFoundError, ShuttingDownError, toMcpError, toToolErrorResult } from '../errors.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { SqliteTaskStore, TaskStatus } from '../store/task-store.js';
import { sessionContext } from './session-state.js';
import { withTaskId } from './task-marks.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
/** A tool body given the extra it runs with (the request's, or a task's). */
export type ToolCall = (extra: Extra) => Promise<CallToolResult>;

interface InFlight {
  controller: AbortController;
  done: Promise<void>;
}

export interface TaskCallsDeps {
  records: SqliteTaskStore;
  sandbox: Pick<SandboxService, 'live' | 'removed'>;
  log: Logger;
  /** How long tasks/cancel and tasks/result wait for a stopped body to record its result (the kill grace and removal). */
  settleMs: number;
}

// The spec's hint a host may hand the model while the task runs (2025-11-25, "Creating Tasks").
const IMMEDIATE_RESPONSE = 'io.modelcontextprotocol/model-immediate-response';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

function firstLine(result: CallToolResult): string | undefined {
  const text = result.content.find((c): c is { type: 'text'; text: string } => c.type === 'text')?.text;
  return text?.split('\n')[0]?.slice(0, 300);
}

/** The notification as part of a task (the spec: every message related to a task carries its id in _meta). */
function relatedTo(notification: ServerNotification, taskId: string): ServerNotification {
  const params = (notification.params ?? {}) as Record<string, unknown> & { _meta?: Record<string, unknown> };
  return { ...notification, params: { ...params, _meta: { ...params._meta, [RELATED_TASK_META_KEY]: { taskId } } } } as ServerNotification;
}

/**
 * Tool calls made as MCP tasks: the task is recorded (SqliteTaskStore), the tool's own body runs in
 * the background with the task's signal, and its result (the CallToolResult a plain call returns) is
 * stored for tasks/result. A task belongs to its owner, not its session: it outlives a disconnect, and
 * the owner's next session reads it. tasks/cancel kills the task's run (SIGTERM, grace, SIGKILL,
 * removal) and leaves the task `cancelled`.
 */
export class TaskCalls {
  private readonly inFlight = new Map<string, InFlight>();

  constructor(private readonly deps: TaskCallsDeps) {}

  /** The SDK TaskStore a session of `owner` serves tasks/get, tasks/result, tasks/list and tasks/cancel from. */
  storeFor(owner: string): TaskStore {
    return new SessionTaskStore(this, this.deps.records.forOwner(owner), owner);
  }

  /** A tools/call made with `task`: create the task (or throw, e.g. busy over CAPSULE_OWNER_MAX_TASKS) and run `call` in the background. */
  async start(call: ToolCall, extra: Extra): Promise<CreateTaskResult> {
    const taskStore = extra.taskStore;
    if (!taskStore) throw new Error('tasks need a task store (ToolCatalog sessions have one)');
    const session = sessionContext.of(extra);
    const { owner } = session;
    const ttl = extra.taskRequestedTtl;
    const task = await taskStore.createTask(ttl === undefined || ttl === null ? {} : { ttl });
    const controller = new AbortController();
    const body = this.bodyExtra(extra, taskStore, task.taskId, controller.signal);
    const done = this.run(owner, task.taskId, () => call(body), (n) => session.notify(n));
    this.inFlight.set(task.taskId, { controller, done });
    void done.finally(() => this.inFlight.delete(task.taskId));
    this.deps.log.info({ task_id: task.taskId, owner }, 'mcp task started');
    return { task, _meta: { [IMMEDIATE_RESPONSE]: `Started as task ${task.taskId}; its result comes from tasks/result (poll tasks/get every ${task.pollInterval} ms).` } };
  }

  /** tasks/cancel: mark the task cancelled, kill its run and stop what would follow, and wait (bounded) until the body has ended. */
  async cancel(owner: string, taskId: string, message: string | undefined): Promise<void> {
    const { records, sandbox } = this.deps;
    const record = records.get(owner, taskId);
    if (!record) throw notFound(taskId);
    if (!records.setStatus(owner, taskId, 'cancelled', `${message ?? 'cancelled by the client'}${record.runId ? ` (run ${record.runId})` : ''}`)) {
      throw new Error(`task ${taskId} has already ended (${record.task.status})`);
    }
    const why = new CancelledError('the task was cancelled (tasks/cancel)');
    const killed = record.runId ? sandbox.live(record.runId)?.kill(why).catch(() => undefined) : undefined;
    this.inFlight.get(taskId)?.controller.abort(why);
    await killed;
    await this.settled(taskId);
    // A warm run answers before its container is removed: the cancel answers once it is gone.
    if (record.runId) await sandbox.removed(record.runId);
    this.deps.log.info({ task_id: taskId, run_id: record.runId, owner }, 'mcp task cancelled');
  }

  /** Resolves once the task's body has ended here (bounded), or at once when it is not running here. */
  async settled(taskId: string): Promise<void> {
    const flight = this.inFlight.get(taskId);
    if (flight) await Promise.race([flight.done, sleep(this.deps.settleMs)]);
  }

  /** Shutdown: stop every task's body (its run ends `killed`, its task `failed`) and wait, bounded, until each has stored its result. */
  async drain(timeoutMs: number): Promise<void> {
    const flights = [...this.inFlight.values()];
    for (const f of flights) f.controller.abort(new ShuttingDownError('the server is shutting down'));
    await Promise.race([Promise.allSettled(flights.map((f) => f.done)), sleep(timeoutMs)]);
  }

  /** Run the body; store its result (isError: `failed`, as the spec has it for tool calls), then say so to the session. */
  private async run(owner: string, taskId: string, call: () => Promise<CallToolResult>, notify: (n: ServerNotification) => Promise<void>): Promise<void> {
    let result: CallToolResult;
    try {
      result = await call();
    } catch (err) {
      result = toToolErrorResult(err);
    }
    try {
      this.deps.records.storeResult(owner, taskId, result.isError ? 'failed' : 'completed', result, result.isError ? firstLine(result) : undefined);
    } catch (err) {
      // The database closed under a shutdown that outlasted its bound: the next start marks the task failed.
      this.deps.log.error({ task_id: taskId, err }, 'storing a task result failed');
      return;
    }
    const task = this.deps.records.get(owner, taskId)?.task;
    if (task) await notify({ method: 'notifications/tasks/status', params: task }).catch(() => undefined);
  }

  /**
   * The extra a task's body runs with: the task's signal instead of the request's (the request is
   * answered at once), notifications outside the answered request, and server requests (sampling)
   * queued for tasks/result as the spec has it, the task `input_required` until the client answers.
   */
  private bodyExtra(extra: Extra, taskStore: RequestTaskStore, taskId: string, signal: AbortSignal): Extra {
    const session = sessionContext.of(extra);
    const sendRequest: Extra['sendRequest'] = async (request, schema, options) => {
      try {
        // The type leaves relatedTask out (a request's extra relates to the request's own task); the SDK
        // reads an explicit one first, which queues the request for tasks/result and moves the task to
        // input_required. (SDK 1.32 leaves the timeout of a request answered that way running: it ends
        // with the session, or fires a late notifications/cancelled the client ignores.)
        return await extra.sendRequest(request, schema, { ...options, relatedTask: { taskId } } as typeof options);
      } finally {
        await taskStore.updateTaskStatus(taskId, 'working').catch(() => undefined);
      }
    };
    return withTaskId({ ...extra, signal, sendNotification: (n: ServerNotification) => session.notify(relatedTo(n, taskId)), sendRequest }, taskId);
  }
}

function notFound(taskId: string) {
  // The spec answers an unknown task id with -32602; Capsule's code (not_found) travels in data.
  return toMcpError(new NotFoundError(`task ${taskId} not found (it never existed, expired, or belongs to another owner)`), ErrorCode.InvalidParams);
}

/** One session's view: the owner's tasks, with cancel wired to the run and tasks/result waiting for a stopping body. */
class SessionTaskStore implements TaskStore {
  constructor(
    private readonly calls: TaskCalls,
    private readonly inner: TaskStore,
    private readonly owner: string,
  ) {}

  createTask(taskParams: CreateTaskOptions, requestId: string | number, request: Request): Promise<Task> {
    return this.inner.createTask(taskParams, requestId, request);
  }

  async getTask(taskId: string): Promise<Task | null> {
    const task = await this.inner.getTask(taskId);
    if (!task) throw notFound(taskId);
    return task;
  }

  storeTaskResult(taskId: string, status: 'completed' | 'failed', result: Result): Promise<void> {
    return this.inner.storeTaskResult(taskId, status, result);
  }

  /** A task that ended without a result (a restart, a cancel before the body returned) answers with its status message as an error result. */
  async getTaskResult(taskId: string): Promise<Result> {
    await this.calls.settled(taskId);
    const task = await this.getTask(taskId);
    try {
      return await this.inner.getTaskResult(taskId);
    } catch (err) {
      if (task === null || !isTerminal(task.status)) throw err;
      return { isError: true, content: [{ type: 'text', text: task.statusMessage ?? `the task ended (${task.status}) without a result` }] };
    }
  }

  updateTaskStatus(taskId: string, status: TaskStatus, statusMessage?: string): Promise<void> {
    if (status === 'cancelled') return this.calls.cancel(this.owner, taskId, statusMessage);
    return this.inner.updateTaskStatus(taskId, status, statusMessage);
  }

  listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    return this.inner.listTasks(cursor);
  }
}
