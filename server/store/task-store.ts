import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { Request, Result, Task } from '@modelcontextprotocol/sdk/types.js';
import { BusyError, InvalidInputError } from '../errors.js';

export type TaskStatus = Task['status'];

/** What bounds the tasks: config values, read once. */
export interface TaskLimits {
  /** CAPSULE_INSTANCE: the tasks this server runs (a restart fails only its own). */
  instance: string;
  /** CAPSULE_RESULT_TTL: the longest a finished task is kept; a request asking for more (or for none) gets this. */
  maxTtlMs: number;
  /** CAPSULE_OWNER_MAX_TASKS: unfinished tasks one owner may hold. */
  maxUnfinishedPerOwner: number;
  /** The poll interval tasks suggest to clients (ms). */
  pollIntervalMs: number;
  /** The clock (tests move it); default Date.now. */
  now?: () => number;
}

/** A stored task: the protocol's Task, whose it is and the run it runs as (the newest, for tools that run several). */
export interface TaskRecord {
  task: Task;
  owner: string;
  tool: string;
  runId: string | null;
}

interface Row {
  task_id: string;
  owner: string;
  tool: string;
  status: TaskStatus;
  status_message: string | null;
  run_id: string | null;
  ttl_ms: number;
  poll_interval_ms: number;
  created_at: string;
  updated_at: string;
}

// A run started for a task records itself on the task (runs.task_id is written by RunStore.recordStarted;
// the store knows no sandbox code, so the link is the database's own). Finished tasks are kept for their
// ttl after they end (expires_at), as runs are kept CAPSULE_RESULT_TTL after they finish.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  task_id          TEXT PRIMARY KEY,
  owner            TEXT NOT NULL,
  instance         TEXT NOT NULL,
  tool             TEXT NOT NULL,
  status           TEXT NOT NULL,
  status_message   TEXT,
  run_id           TEXT,
  ttl_ms           INTEGER NOT NULL,
  poll_interval_ms INTEGER NOT NULL,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  expires_at       INTEGER,
  result_json      TEXT
);
CREATE INDEX IF NOT EXISTS tasks_owner_created ON tasks (owner, created_at DESC, task_id DESC);
CREATE INDEX IF NOT EXISTS tasks_expires ON tasks (expires_at);
CREATE TRIGGER IF NOT EXISTS tasks_run_started AFTER INSERT ON runs WHEN NEW.task_id IS NOT NULL
BEGIN
  UPDATE tasks SET run_id = NEW.run_id WHERE task_id = NEW.task_id AND owner = NEW.owner;
END;
`;

// Never result_json: a result can be megabytes (capped output, collected files), and only tasks/result reads it.
const COLUMNS = 'task_id, owner, tool, status, status_message, run_id, ttl_ms, poll_interval_ms, created_at, updated_at';
const UNFINISHED = `status IN ('working', 'input_required')`;
const LIVE = `(expires_at IS NULL OR expires_at > ?)`;
const PAGE = 50;
const MIN_TTL_MS = 1000;

function toTask(row: Row): Task {
  const message =
    row.status_message ??
    (row.status === 'input_required'
      ? `${row.tool} waits for the client (sampling): call tasks/result to receive its request`
      : `${row.tool}${row.run_id ? `, run ${row.run_id}` : ''}`);
  return {
    taskId: row.task_id,
    status: row.status,
    ttl: row.ttl_ms,
    createdAt: row.created_at,
    lastUpdatedAt: row.updated_at,
    pollInterval: row.poll_interval_ms,
    statusMessage: message,
  };
}

const encodeCursor = (row: Row) => Buffer.from(JSON.stringify([row.created_at, row.task_id])).toString('base64url');

function decodeCursor(cursor: string): [string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string')) return value as [string, string];
  } catch {
    // falls through to the error below
  }
  throw new InvalidInputError('invalid tasks/list cursor: pass back a nextCursor exactly as received');
}

/**
 * MCP tasks in the run store's database (SQLite), so they outlive a session and a restart. Every read
 * and write is scoped to one owner: another owner's task is indistinguishable from a missing one.
 * Results are the tool's CallToolResult as JSON (never the request's arguments).
 */
export class SqliteTaskStore {
  private readonly now: () => number;

  constructor(
    private readonly db: Database.Database,
    private readonly limits: TaskLimits,
  ) {
    db.exec(SCHEMA);
    this.now = limits.now ?? Date.now;
  }

  /** A new `working` task of `owner`, or BusyError when the owner holds CAPSULE_OWNER_MAX_TASKS unfinished ones. */
  create(owner: string, tool: string, requested: CreateTaskOptions = {}): Task {
    const { maxTtlMs, maxUnfinishedPerOwner, pollIntervalMs, instance } = this.limits;
    const ttl = Math.min(Math.max(requested.ttl ?? maxTtlMs, MIN_TTL_MS), maxTtlMs);
    const now = new Date(this.now()).toISOString();
    const row: Row = { task_id: randomBytes(16).toString('hex'), owner, tool, status: 'working', status_message: null, run_id: null, ttl_ms: ttl, poll_interval_ms: requested.pollInterval ?? pollIntervalMs, created_at: now, updated_at: now };
    this.db.transaction(() => {
      const { n } = this.db.prepare(`SELECT count(*) AS n FROM tasks WHERE owner = ? AND ${UNFINISHED}`).get(owner) as { n: number };
      if (n >= maxUnfinishedPerOwner) {
        throw new BusyError(`owner "${owner}" already has ${n} unfinished tasks (CAPSULE_OWNER_MAX_TASKS=${maxUnfinishedPerOwner}); retry when one ends, or cancel one`, {
          details: { limit: 'CAPSULE_OWNER_MAX_TASKS', max: maxUnfinishedPerOwner, retry_after_s: 1 },
        });
      }
      this.db
        .prepare(`INSERT INTO tasks (task_id, owner, instance, tool, status, ttl_ms, poll_interval_ms, created_at, updated_at) VALUES (?, ?, ?, ?, 'working', ?, ?, ?, ?)`)
        .run(row.task_id, owner, instance, tool, row.ttl_ms, row.poll_interval_ms, now, now);
    })();
    return toTask(row);
  }

  /** One task of `owner` (null: missing, expired, or another owner's). */
  get(owner: string, taskId: string): TaskRecord | null {
    const row = this.db.prepare(`SELECT ${COLUMNS} FROM tasks WHERE task_id = ? AND owner = ? AND ${LIVE}`).get(taskId, owner, this.now()) as Row | undefined;
    return row ? { task: toTask(row), owner: row.owner, tool: row.tool, runId: row.run_id } : null;
  }

  /** The owner's tasks, newest first, a page at a time. */
  list(owner: string, cursor?: string): { tasks: Task[]; nextCursor?: string } {
    const after = cursor === undefined ? null : decodeCursor(cursor);
    const page = after
      ? `AND (created_at < ? OR (created_at = ? AND task_id < ?))`
      : '';
    const args: unknown[] = [owner, this.now(), ...(after ? [after[0], after[0], after[1]] : []), PAGE + 1];
    const rows = this.db.prepare(`SELECT ${COLUMNS} FROM tasks WHERE owner = ? AND ${LIVE} ${page} ORDER BY created_at DESC, task_id DESC LIMIT ?`).all(...args) as Row[];
    const tasks = rows.slice(0, PAGE);
    return { tasks: tasks.map(toTask), ...(rows.length > PAGE ? { nextCursor: encodeCursor(tasks.at(-1)!) } : {}) };
  }

  /** Move an unfinished task to `status`; false when it is already terminal (or missing). */
  setStatus(owner: string, taskId: string, status: TaskStatus, message?: string): boolean {
    const now = this.now();
    const terminal = status === 'completed' || status === 'failed' || status === 'cancelled';
    return (
      this.db
        .prepare(`UPDATE tasks SET status = ?, status_message = ?, updated_at = ?, expires_at = CASE WHEN ? THEN ? + ttl_ms END WHERE task_id = ? AND owner = ? AND ${UNFINISHED}`)
        .run(status, message ?? null, new Date(now).toISOString(), terminal ? 1 : 0, now, taskId, owner).changes > 0
    );
  }

  /**
   * The tool's result. An unfinished task ends with `status`; a cancelled one keeps its status (the
   * spec: it stays cancelled) and gets the result of the run its cancellation stopped.
   */
  storeResult(owner: string, taskId: string, status: 'completed' | 'failed', result: Result, message?: string): void {
    const json = JSON.stringify(result);
    this.db.transaction(() => {
      if (this.setStatus(owner, taskId, status, message)) this.db.prepare(`UPDATE tasks SET result_json = ? WHERE task_id = ?`).run(json, taskId);
      else this.db.prepare(`UPDATE tasks SET result_json = ? WHERE task_id = ? AND owner = ? AND result_json IS NULL`).run(json, taskId, owner);
    })();
  }

  /** The stored result, or null (unfinished, or ended without one: a restart, a cancel before the tool returned). */
  result(owner: string, taskId: string): Result | null {
    const row = this.db.prepare(`SELECT result_json FROM tasks WHERE task_id = ? AND owner = ? AND ${LIVE}`).get(taskId, owner, this.now()) as { result_json: string | null } | undefined;
    return row?.result_json ? (JSON.parse(row.result_json) as Result) : null;
  }

  /** Fail this instance's unfinished tasks: the server stopped while they ran (start-up, after RunStore.markInterrupted). */
  markInterrupted(reason: string): number {
    const now = this.now();
    return this.db
      .prepare(`UPDATE tasks SET status = 'failed', status_message = ? || COALESCE(' (run ' || run_id || ')', ''), updated_at = ?, expires_at = ? + ttl_ms WHERE instance = ? AND ${UNFINISHED}`)
      .run(reason, new Date(now).toISOString(), now, this.limits.instance).changes;
  }

  /** Delete tasks past their ttl; returns how many. */
  purgeExpired(): number {
    return this.db.prepare(`DELETE FROM tasks WHERE expires_at IS NOT NULL AND expires_at <= ?`).run(this.now()).changes;
  }

  /** The SDK's TaskStore for one owner's sessions: the session id the SDK passes is ignored, the owner decides. */
  forOwner(owner: string): TaskStore {
    return new OwnerTaskStore(this, owner);
  }
}

/** The SDK interface over one owner's tasks (what a session's Protocol calls for tasks/get, tasks/list, ...). */
class OwnerTaskStore implements TaskStore {
  constructor(
    private readonly store: SqliteTaskStore,
    private readonly owner: string,
  ) {}

  async createTask(taskParams: CreateTaskOptions, _requestId: unknown, request: Request): Promise<Task> {
    const name = (request.params as { name?: unknown } | undefined)?.name;
    return this.store.create(this.owner, typeof name === 'string' ? name : request.method, taskParams);
  }

  async getTask(taskId: string): Promise<Task | null> {
    return this.store.get(this.owner, taskId)?.task ?? null;
  }

  async storeTaskResult(taskId: string, status: 'completed' | 'failed', result: Result): Promise<void> {
    this.found(taskId);
    this.store.storeResult(this.owner, taskId, status, result);
  }

  async getTaskResult(taskId: string): Promise<Result> {
    this.found(taskId);
    const result = this.store.result(this.owner, taskId);
    if (!result) throw new Error(`task ${taskId} has no result stored`);
    return result;
  }

  async updateTaskStatus(taskId: string, status: TaskStatus, statusMessage?: string): Promise<void> {
    const record = this.found(taskId);
    if (!this.store.setStatus(this.owner, taskId, status, statusMessage)) {
      throw new Error(`cannot move task ${taskId} from its terminal status "${record.task.status}" to "${status}"`);
    }
  }

  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    return this.store.list(this.owner, cursor);
  }

  private found(taskId: string): TaskRecord {
    const record = this.store.get(this.owner, taskId);
    if (!record) throw new Error(`task ${taskId} not found`);
    return record;
  }
}
