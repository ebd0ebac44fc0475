import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type CallToolResult, CreateMessageRequestSchema, CreateTaskResultSchema, LoggingMessageNotificationSchema, McpError, RELATED_TASK_META_KEY, type Task } from '@modelcontextprotocol/sdk/types.js';
import { containersLeft, requireEngine, runtime } from '../helpers/engine.js';
import { httpClient } from '../helpers/mcp-client.js';
import { startServer, type RunningServer } from '../helpers/server-process.js';

// MCP tasks against the real server over Streamable HTTP, through the SDK client's own task API
// (tasks-stdio.test.ts does the same over stdio).
const TOKEN_A = 'alice-task-token-0123456789abcdef';
const TOKEN_B = 'bob-task-token-0123456789abcdef01';
const ALICE = { authorization: `Bearer ${TOKEN_A}` };
const BOB = { authorization: `Bearer ${TOKEN_B}` };
const TASK_TOOLS = ['analyze_code', 'generate_code', 'profile_code', 'run_code', 'run_command', 'run_tests'];
const servers: RunningServer[] = [];
let server: RunningServer;

test.before(async () => {
  await requireEngine();
  server = await serve({});
});
test.after.always(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function serve(env: Record<string, string>): Promise<RunningServer> {
  const s = await startServer({ CAPSULE_TOKENS: `alice:${TOKEN_A},bob:${TOKEN_B}`, ...env });
  servers.push(s);
  return s;
}

async function startTask(client: Client, args: Record<string, unknown>, name = 'run_command'): Promise<Task> {
  const created = await client.request({ method: 'tools/call', params: { name, arguments: args, task: { ttl: 600_000 } } }, CreateTaskResultSchema);
  return created.task;
}

/** The run a task runs as, from the run records (list_runs names each run's task). */
async function runOf(client: Client, taskId: string): Promise<string> {
  const end = Date.now() + 20_000;
  for (;;) {
    const r = (await client.callTool({ name: 'list_runs', arguments: { limit: 50 } })) as CallToolResult;
    const run = (r.structuredContent as { runs: Array<{ run_id: string; task_id: string | null; status: string }> }).runs.find((x) => x.task_id === taskId);
    if (run && (await runtime.list({ 'capsule.run_id': run.run_id })).length > 0) return run.run_id;
    if (Date.now() > end) throw new Error(`no run with a container for task ${taskId}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('the run tools declare execution.taskSupport "optional", the others do not, and the server declares tasks', async (t) => {
  const { client } = await httpClient(server.url, ALICE);
  try {
    const { tools } = await client.listTools();
    t.deepEqual(tools.filter((x) => x.execution?.taskSupport === 'optional').map((x) => x.name).sort(), TASK_TOOLS);
    t.true(tools.filter((x) => !TASK_TOOLS.includes(x.name)).every((x) => (x.execution?.taskSupport ?? 'forbidden') === 'forbidden'));
    t.like(client.getServerCapabilities()?.tasks, { list: {}, cancel: {}, requests: { tools: { call: {} } } });
  } finally {
    await client.close();
  }
});

test('callToolStream over HTTP: taskCreated, status updates, then the result of sleep 2; echo ok; output and progress arrive as notifications of the task', async (t) => {
  const { client } = await httpClient(server.url, ALICE);
  try {
    const output: Array<{ data: unknown; task?: string }> = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      output.push({ data: n.params.data, task: (n.params._meta?.[RELATED_TASK_META_KEY] as { taskId?: string } | undefined)?.taskId });
    });
    const progress: string[] = [];
    const seen: string[] = [];
    let taskId = '';
    let result: CallToolResult | undefined;
    const stream = client.experimental.tasks.callToolStream({ name: 'run_command', arguments: { command: 'echo started; sleep 2; echo ok' } }, CallToolResultSchema, {
      task: { ttl: 600_000 },
      onprogress: (p) => progress.push(p.message ?? ''),
    });
    for await (const m of stream) {
      seen.push(m.type === 'taskStatus' ? m.task.status : m.type);
      if (m.type === 'taskCreated') taskId = m.task.taskId;
      if (m.type === 'result') result = m.result as CallToolResult;
      if (m.type === 'error') t.fail(m.error.message);
    }
    t.is(seen[0], 'taskCreated');
    t.true(seen.filter((s) => s === 'working').length >= 1, seen.join(','));
    t.deepEqual(seen.slice(-2), ['completed', 'result']);
    t.like(result?.structuredContent, { status: 'exited', exit_code: 0, stdout: 'started\nok\n' });
    t.falsy(result?.isError);
    t.is(output.map((o) => o.data).join(''), 'started\nok\n', 'live output of the task');
    t.true(output.every((o) => o.task === taskId), 'each notification names the task');
    t.is(progress.at(-1), 'ok');

    const task = await client.experimental.tasks.getTask(taskId);
    t.like(task, { taskId, status: 'completed', ttl: 600_000, pollInterval: 1000 });
    const runId = result?.structuredContent?.['run_id'] as string;
    t.regex(task.statusMessage ?? '', new RegExp(`run ${runId}`));
    t.true((await client.experimental.tasks.listTasks()).tasks.some((x) => x.taskId === taskId));
    const record = (await client.callTool({ name: 'get_run', arguments: { run_id: runId } })) as CallToolResult;
    t.is(record.structuredContent?.['task_id'], taskId, 'get_run names the task');
    const again = (await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema)) as CallToolResult;
    t.deepEqual(again.structuredContent, result?.structuredContent, 'tasks/result again: the same result');
  } finally {
    await client.close();
  }
});

test('tasks/cancel of a sleep 60 kills its container: gone once the cancel is answered; the task stays cancelled', async (t) => {
  const { client } = await httpClient(server.url, ALICE);
  try {
    const task = await startTask(client, { command: 'sleep 60' });
    const runId = await runOf(client, task.taskId);
    const started = performance.now();
    const cancelled = await client.experimental.tasks.cancelTask(task.taskId);
    t.log(`tasks/cancel answered in ${Math.round(performance.now() - started)} ms (kill grace 500 ms)`);
    t.is(cancelled.status, 'cancelled');
    t.deepEqual(await runtime.list({ 'capsule.run_id': runId }), [], 'no container with its capsule.run_id label');
    t.is((await client.experimental.tasks.getTask(task.taskId)).status, 'cancelled');
    const result = (await client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)) as CallToolResult;
    t.true(result.isError);
    t.like(result.structuredContent, { status: 'killed', error: 'the task was cancelled (tasks/cancel)' });
  } finally {
    await client.close();
  }
});

test('the result of a task comes from a new session after the first one ended', async (t) => {
  const first = await httpClient(server.url, ALICE);
  const task = await startTask(first.client, { command: 'sleep 2; echo ok' });
  await first.transport.terminateSession();
  await first.client.close();
  const { client } = await httpClient(server.url, ALICE);
  try {
    t.true((await client.experimental.tasks.listTasks()).tasks.some((x) => x.taskId === task.taskId));
    const result = (await client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)) as CallToolResult;
    t.like(result.structuredContent, { status: 'exited', stdout: 'ok\n' });
    t.is((await client.experimental.tasks.getTask(task.taskId)).status, 'completed');
  } finally {
    await client.close();
  }
});

test('another owner\'s task id is not_found for tasks/get, tasks/result and tasks/cancel, and not in its tasks/list', async (t) => {
  const alice = await httpClient(server.url, ALICE);
  const bob = await httpClient(server.url, BOB);
  try {
    const task = await startTask(alice.client, { command: 'sleep 30' });
    const attempts = [
      bob.client.experimental.tasks.getTask(task.taskId),
      bob.client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema),
      bob.client.experimental.tasks.cancelTask(task.taskId),
    ];
    for (const attempt of attempts) {
      const err = await t.throwsAsync(attempt, { instanceOf: McpError });
      t.is(err?.code, -32602);
      t.is((err?.data as { code?: string } | undefined)?.code, 'not_found');
    }
    t.false((await bob.client.experimental.tasks.listTasks()).tasks.some((x) => x.taskId === task.taskId));
    t.is((await alice.client.experimental.tasks.getTask(task.taskId)).status, 'working');
    await alice.client.experimental.tasks.cancelTask(task.taskId);
  } finally {
    await Promise.all([alice.client.close(), bob.client.close()]);
  }
});

test('a server killed mid-task and started again (same data dir and instance) ends the task failed, with the reason', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'capsule-e2e-tasks-'));
  const first = await serve({ CAPSULE_DATA_DIR: dataDir, CAPSULE_POOL: '0' });
  const before = await httpClient(first.url, ALICE);
  const task = await startTask(before.client, { command: 'sleep 60' });
  const runId = await runOf(before.client, task.taskId);
  await first.stop('SIGKILL');
  await before.client.close().catch(() => undefined);
  const second = await serve({ CAPSULE_DATA_DIR: dataDir, CAPSULE_POOL: '0', CAPSULE_INSTANCE: first.instance });
  const { client } = await httpClient(second.url, ALICE);
  try {
    const after = await client.experimental.tasks.getTask(task.taskId);
    t.is(after.status, 'failed');
    t.is(after.statusMessage, `the server stopped while this task was in flight (run ${runId})`);
    const result = (await client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)) as CallToolResult;
    t.true(result.isError);
    t.regex((result.content[0] as { text: string }).text, /the server stopped while this task was in flight/);
    const record = (await client.callTool({ name: 'get_run', arguments: { run_id: runId } })) as CallToolResult;
    t.like(record.structuredContent, { status: 'failed', task_id: task.taskId });
    t.is((await containersLeft({ 'capsule.run_id': runId }, 15_000)).length, 0, 'the reaper removed the orphaned container');
  } finally {
    await client.close();
  }
});

test('generate_code as a task over HTTP: input_required while the client samples, the request delivered on tasks/result, then completed', async (t) => {
  const client = new Client({ name: 'sampler', version: '1' }, { capabilities: { sampling: {} } });
  let taskId = '';
  const during: string[] = [];
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    t.is((request.params._meta?.[RELATED_TASK_META_KEY] as { taskId?: string } | undefined)?.taskId, taskId, 'the request names its task');
    during.push((await client.experimental.tasks.getTask(taskId)).status);
    return { role: 'assistant', model: 'test-model', content: { type: 'text', text: '```python\ndef add(a, b):\n    return a + b\n```' } };
  });
  await client.connect(new StreamableHTTPClientTransport(server.url, { requestInit: { headers: ALICE } }));
  await client.listTools();
  try {
    const statuses: string[] = [];
    let result: CallToolResult | undefined;
    const call = { name: 'generate_code', arguments: { task: 'Write add(a, b).', language: 'python', tests: 'assert add(2, 3) == 5', max_attempts: 1 } };
    for await (const m of client.experimental.tasks.callToolStream(call, CallToolResultSchema, { task: { ttl: 600_000 } })) {
      if (m.type === 'taskCreated') taskId = m.task.taskId;
      if (m.type === 'taskStatus') statuses.push(m.task.status);
      if (m.type === 'result') result = m.result as CallToolResult;
    }
    t.true(statuses.includes('input_required'), statuses.join(','));
    t.deepEqual(during, ['input_required']);
    t.like(result?.structuredContent, { passed: true, model_source: 'mcp_sampling' });
    t.is((await client.experimental.tasks.getTask(taskId)).status, 'completed');
  } finally {
    await client.close();
  }
});
