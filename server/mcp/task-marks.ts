import type { CapsuleError } from '../errors.js';

// What travels on a tool call's `extra` (the SDK copies it with `{ ...extra }`; symbol keys survive the
// copies and no client value can set them, as with the session in session-state.ts).

const TASK_CALL = Symbol('capsule.mcp.task-call');
const TASK = Symbol('capsule.mcp.task');

/** Set on a tools/call made with `task` (see task-routing.ts); `refusal` says why no task was made. */
export interface TaskCallMark {
  refusal?: CapsuleError;
}

/** The extra of a tools/call made with `task`. */
export function markTaskCall<E extends object>(extra: E, mark: TaskCallMark): E {
  return { ...extra, [TASK_CALL]: mark };
}

/** The mark of a tools/call made with `task`; undefined for a plain call. */
export function taskCallOf(extra: object): TaskCallMark | undefined {
  return (extra as { [TASK_CALL]?: TaskCallMark })[TASK_CALL];
}

/** The extra a task's tool body runs with: its runs are recorded with the task id. */
export function withTaskId<E extends object>(extra: E, taskId: string): E {
  return { ...extra, [TASK]: taskId };
}

/** The task a tool body runs for, if it runs as one. */
export function taskIdOf(extra: object): string | undefined {
  return (extra as { [TASK]?: string })[TASK];
}
