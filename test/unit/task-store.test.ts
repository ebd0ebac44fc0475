import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BusyError, InvalidInputError } from '../../server/errors.js';
import { RunStore } from '../../server/store/run-store.js';
import { SqliteTaskStore, type TaskLimits } from '../../server/store/task-store.js';

const HOUR = 3_600_000;
const CALL = { method: 'tools/call', params: { name: 'run_command', arguments: { command: 'secret-ish' } } };

function stores(limits: Partial<TaskLimits> = {}, dataDir = ':memory:', instance = 'test') {
  const clock = { now: Date.parse('2026-12-01T10:00:00.000Z') };
  const runs = RunStore.open(dataDir, instance);
  const tasks = new SqliteTaskStore(runs.database, { instance, maxTtlMs: HOUR, maxUnfinishedPerOwner: 3, pollIntervalMs: 1000, now: () => clock.now, ...limits });
  return { runs, tasks, clock };
}

const result = (text: string, isError = false) => ({ content: [{ type: 'text', text }], ...(isError ? { isError } : {}) });

test('a task is created working with a random id and the capped ttl; only its owner finds it', (t) => {
  const { tasks } = stores();
  const a = tasks.create('alice', 'run_command', { ttl: 60_000 });
  t.regex(a.taskId, /^[0-9a-f]{32}$/, '128 random bits');
  t.like(a, { status: 'working', ttl: 60_000, pollInterval: 1000, statusMessage: 'run_command' });
  t.is(a.createdAt, '2026-12-01T10:00:00.000Z');
  t.is(tasks.create('alice', 'run_code', { ttl: 10 * HOUR }).ttl, HOUR, 'capped by CAPSULE_RESULT_TTL');
  t.is(tasks.create('alice', 'run_code', {}).ttl, HOUR, 'no ttl asked: the cap');
  t.is(tasks.create('bob', 'run_code', { ttl: 1 }).ttl, 1000, 'at least a second');
  t.is(tasks.get('alice', a.taskId)?.task.taskId, a.taskId);
  t.is(tasks.get('bob', a.taskId), null, 'another owner\'s task is a missing one');
  t.deepEqual(tasks.list('bob').tasks.map((x) => x.ttl), [1000]);
});

test('unfinished tasks are capped per owner (busy, with retry_after_s); an ended one frees its place', (t) => {
  const { tasks } = stores();
  const made = [0, 1, 2].map(() => tasks.create('alice', 'run_command'));
  const err = t.throws(() => tasks.create('alice', 'run_command'), { instanceOf: BusyError });
  t.like(err?.details, { limit: 'CAPSULE_OWNER_MAX_TASKS', max: 3, retry_after_s: 1 });
  t.regex(err?.message ?? '', /already has 3 unfinished tasks/);
  t.notThrows(() => tasks.create('bob', 'run_command'), 'the cap is per owner');
  t.true(tasks.setStatus('alice', made[0]!.taskId, 'input_required'));
  t.throws(() => tasks.create('alice', 'run_command'), { instanceOf: BusyError }, 'input_required is unfinished');
  tasks.storeResult('alice', made[1]!.taskId, 'completed', result('ok'));
  t.is(tasks.create('alice', 'run_command').status, 'working');
});

test('statuses move only from unfinished ones; a result ends a task; a cancelled task stays cancelled and keeps the run\'s result', (t) => {
  const { tasks, clock } = stores();
  const a = tasks.create('alice', 'run_command');
  t.true(tasks.setStatus('alice', a.taskId, 'input_required'));
  t.regex(tasks.get('alice', a.taskId)!.task.statusMessage!, /waits for the client/);
  t.true(tasks.setStatus('alice', a.taskId, 'working'));
  clock.now += 5000;
  tasks.storeResult('alice', a.taskId, 'failed', result('exited; exit code 3', true), 'exited; exit code 3');
  t.like(tasks.get('alice', a.taskId)!.task, { status: 'failed', statusMessage: 'exited; exit code 3', lastUpdatedAt: '2026-12-01T10:00:05.000Z' });
  t.false(tasks.setStatus('alice', a.taskId, 'working'), 'terminal is terminal');
  t.deepEqual(tasks.result('alice', a.taskId), result('exited; exit code 3', true));
  t.is(tasks.result('bob', a.taskId), null);

  const b = tasks.create('alice', 'run_command');
  t.is(tasks.result('alice', b.taskId), null, 'no result while it runs');
  t.true(tasks.setStatus('alice', b.taskId, 'cancelled', 'Client cancelled task execution.'));
  tasks.storeResult('alice', b.taskId, 'failed', result('killed', true));
  t.is(tasks.get('alice', b.taskId)!.task.status, 'cancelled');
  t.deepEqual(tasks.result('alice', b.taskId), result('killed', true));
  tasks.storeResult('alice', b.taskId, 'completed', result('later'));
  t.deepEqual(tasks.result('alice', b.taskId), result('killed', true), 'a result is stored once');
});

test('tasks/list pages newest first with an opaque cursor; a bad cursor is invalid_input', (t) => {
  const { tasks, clock } = stores({ maxUnfinishedPerOwner: 1000 });
  const ids: string[] = [];
  for (let i = 0; i < 120; i++) {
    clock.now += i % 3 === 0 ? 1 : 0; // some share a creation time: the id breaks the tie
    ids.push(tasks.create('alice', 'run_command').taskId);
  }
  tasks.create('bob', 'run_command');
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = tasks.list('alice', cursor);
    seen.push(...page.tasks.map((x) => x.taskId));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  t.is(pages, 3);
  t.is(seen.length, 120);
  t.is(new Set(seen).size, 120, 'every task once');
  t.deepEqual([...seen].sort(), [...ids].sort(), 'only alice\'s');
  t.throws(() => tasks.list('alice', 'not-a-cursor'), { instanceOf: InvalidInputError });
});

test('a finished task is kept for its ttl after it ends, then it is gone and purged; an unfinished one never expires', (t) => {
  const { tasks, clock } = stores();
  const a = tasks.create('alice', 'run_command', { ttl: 60_000 });
  const b = tasks.create('alice', 'run_command', { ttl: 60_000 });
  clock.now += 10 * 60_000;
  tasks.storeResult('alice', a.taskId, 'completed', result('ok'));
  clock.now += 59_000;
  t.truthy(tasks.get('alice', a.taskId));
  t.is(tasks.purgeExpired(), 0);
  clock.now += 1000;
  t.is(tasks.get('alice', a.taskId), null);
  t.is(tasks.result('alice', a.taskId), null);
  t.deepEqual(tasks.list('alice').tasks.map((x) => x.taskId), [b.taskId]);
  t.is(tasks.purgeExpired(), 1);
  t.is(tasks.get('alice', b.taskId)?.task.status, 'working');
});

test('a run started for a task records itself on the task; the run record names the task', (t) => {
  const { runs, tasks } = stores();
  const a = tasks.create('alice', 'run_command');
  runs.recordStarted({ run_id: 'run_1', kind: 'run', owner: 'alice', profile: 'default', summary: 'sleep 60', task_id: a.taskId });
  t.is(tasks.get('alice', a.taskId)?.runId, 'run_1');
  t.is(tasks.get('alice', a.taskId)?.task.statusMessage, 'run_command, run run_1');
  t.is(runs.get('run_1', 'alice')?.task_id, a.taskId);
  runs.recordStarted({ run_id: 'run_2', kind: 'run', owner: 'mallory', profile: 'default', summary: 'x', task_id: a.taskId });
  t.is(tasks.get('alice', a.taskId)?.runId, 'run_1', 'another owner\'s run cannot attach itself');
  runs.recordStarted({ run_id: 'run_3', kind: 'run', owner: 'alice', profile: 'default', summary: 'echo' });
  t.is(runs.get('run_3', 'alice')?.task_id, null);
});

test('tasks survive a reopen of the database; a restart fails this instance\'s unfinished tasks only, naming the run', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'capsule-task-store-'));
  const first = stores({}, dir, 'one');
  const running = first.tasks.create('alice', 'run_command');
  first.runs.recordStarted({ run_id: 'run_9', kind: 'run', owner: 'alice', profile: 'default', summary: 'sleep 60', task_id: running.taskId });
  const done = first.tasks.create('alice', 'run_command');
  first.tasks.storeResult('alice', done.taskId, 'completed', result('ok'));
  const other = new SqliteTaskStore(first.runs.database, { instance: 'two', maxTtlMs: HOUR, maxUnfinishedPerOwner: 3, pollIntervalMs: 1000 });
  const elsewhere = other.create('alice', 'run_code');
  first.runs.close();

  const again = stores({}, dir, 'one');
  t.is(again.tasks.markInterrupted('the server stopped while this task was in flight'), 1);
  t.like(again.tasks.get('alice', running.taskId)?.task, { status: 'failed', statusMessage: 'the server stopped while this task was in flight (run run_9)' });
  t.is(again.tasks.get('alice', done.taskId)?.task.status, 'completed');
  t.deepEqual(again.tasks.result('alice', done.taskId), result('ok'));
  t.is(again.tasks.get('alice', elsewhere.taskId)?.task.status, 'working', 'another instance\'s task is its own business');
  again.runs.close();
});

test('the SDK TaskStore view: scoped to its owner, the tool name from the request, errors as the SDK\'s in-memory store has them', async (t) => {
  const { tasks } = stores();
  const alice = tasks.forOwner('alice');
  const bob = tasks.forOwner('bob');
  const task = await alice.createTask({ ttl: 60_000 }, 1, CALL);
  t.is(task.statusMessage, 'run_command', 'the tool name, never the arguments');
  t.is(await bob.getTask(task.taskId), null);
  await t.throwsAsync(bob.storeTaskResult(task.taskId, 'completed', result('x')), { message: /not found/ });
  await t.throwsAsync(bob.updateTaskStatus(task.taskId, 'cancelled'), { message: /not found/ });
  await t.throwsAsync(alice.getTaskResult(task.taskId), { message: /no result/ });
  t.deepEqual((await bob.listTasks()).tasks, []);
  await alice.storeTaskResult(task.taskId, 'completed', result('done'));
  t.deepEqual(await alice.getTaskResult(task.taskId), result('done'));
  await t.throwsAsync(alice.updateTaskStatus(task.taskId, 'working'), { message: /terminal status "completed"/ });
  t.is((await alice.listTasks()).tasks[0]?.status, 'completed');
});
