import test, { type ExecutionContext } from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolResultSchema, type CallToolResult, CreateMessageRequestSchema, CreateTaskResultSchema, McpError, RELATED_TASK_META_KEY, type Task } from '@modelcontextprotocol/sdk/types.js';
import { createToolCatalog } from '../../server/mcp/server.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { testServices } from '../helpers/services.js';

// The task path of the catalog on the fake runtime, through the SDK's own client task API (the e2e
// tests do the same against the real server over Streamable HTTP and stdio).

async function connect(t: ExecutionContext, server: McpServer, options: ConstructorParameters<typeof Client>[1] = {}) {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'unit', version: '1' }, options);
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  // Closing also ends the SDK's timeout of a request answered through tasks/result, which it never clears.
  t.teardown(() => client.close());
  await client.listTools();
  return client;
}

function setup(t: ExecutionContext, env: Record<string, string> = {}) {
  const runtime = new FakeRuntime();
  const services = testServices(runtime, { env });
  t.teardown(() => services[Symbol.asyncDispose]());
  return { runtime, services, catalog: createToolCatalog(services.tools) };
}

/** Start a task-augmented call and return its task at once (the raw request, as a host would send it). */
async function startTask(client: Client, name: string, args: Record<string, unknown>): Promise<Task> {
  const created = await client.request({ method: 'tools/call', params: { name, arguments: args, task: { ttl: 60_000 } } }, CreateTaskResultSchema);
  return created.task;
}

async function until<T>(what: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  let v = await what();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 20));
    v = await what();
  }
  return v;
}

test('a plain call of a task tool is answered as before and makes no task', async (t) => {
  const { runtime, catalog } = setup(t);
  const client = await connect(t, catalog.createServer());
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('plain\n') }], exitCode: 0 };
  const r = (await client.callTool({ name: 'run_command', arguments: { command: 'echo plain' } })) as CallToolResult;
  t.is(r.structuredContent?.['stdout'], 'plain\n');
  t.is((await client.experimental.tasks.listTasks()).tasks.length, 0);
});

test('callToolStream with a task: taskCreated, status, then the result a plain call returns; the run records its task', async (t) => {
  const { runtime, services, catalog } = setup(t);
  const client = await connect(t, catalog.createServer());
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('ok\n') }], runMs: 300, exitCode: 0 };
  const seen: string[] = [];
  let result: CallToolResult | undefined;
  let taskId = '';
  for await (const m of client.experimental.tasks.callToolStream({ name: 'run_command', arguments: { command: 'sleep 2; echo ok' } }, CallToolResultSchema, { task: { ttl: 60_000 } })) {
    seen.push(m.type === 'taskStatus' ? `status:${m.task.status}` : m.type);
    if (m.type === 'taskCreated') taskId = m.task.taskId;
    if (m.type === 'result') result = m.result as CallToolResult;
  }
  t.is(seen[0], 'taskCreated');
  t.is(seen.at(-2), 'status:completed');
  t.is(seen.at(-1), 'result');
  t.is(result?.structuredContent?.['stdout'], 'ok\n');
  t.falsy(result?.isError);
  const runId = result?.structuredContent?.['run_id'] as string;
  t.is(services.store.get(runId, 'local')?.task_id, taskId, 'the run record names its task');
  const task = await client.experimental.tasks.getTask(taskId);
  t.is(task.status, 'completed');
  t.is(task.ttl, 60_000);
  t.regex(task.statusMessage ?? '', new RegExp(`run ${runId}`), 'the task names its run');
  const listed = await client.experimental.tasks.listTasks();
  t.deepEqual(listed.tasks.map((x) => x.taskId), [taskId]);
});

test('a run that fails makes the task failed; tasks/result is the isError result a plain call returns', async (t) => {
  const { runtime, catalog } = setup(t);
  const client = await connect(t, catalog.createServer());
  runtime.next = { output: [{ stream: 'stderr', data: Buffer.from('nope\n') }], exitCode: 3 };
  const task = await startTask(client, 'run_command', { command: 'exit 3' });
  const result = (await client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)) as CallToolResult;
  t.true(result.isError);
  t.like(result.structuredContent, { status: 'exited', exit_code: 3, stderr: 'nope\n' });
  t.is(((result._meta ?? {})[RELATED_TASK_META_KEY] as { taskId?: string } | undefined)?.taskId, task.taskId);
  const after = await client.experimental.tasks.getTask(task.taskId);
  t.is(after.status, 'failed');
  t.regex(after.statusMessage ?? '', /exit code 3/);
});

test('tasks/cancel kills the run and removes its container; the task stays cancelled with the killed result', async (t) => {
  const { runtime, services, catalog } = setup(t);
  const client = await connect(t, catalog.createServer());
  runtime.next = { runMs: Infinity };
  const task = await startTask(client, 'run_command', { command: 'sleep 60' });
  const running = await until(() => client.experimental.tasks.getTask(task.taskId), (x) => /, run \S+/.test(x.statusMessage ?? ''));
  const runId = /, run (\S+)/.exec(running.statusMessage ?? '')![1]!;
  t.truthy(await until(async () => services.sandbox.live(runId), Boolean), 'the run is in flight');
  const cancelled = await client.experimental.tasks.cancelTask(task.taskId);
  t.is(cancelled.status, 'cancelled');
  t.is(services.sandbox.live(runId), undefined, 'the run has ended when tasks/cancel answers');
  t.is(runtime.containers.size, 0, 'its container is removed');
  t.is((await client.experimental.tasks.getTask(task.taskId)).status, 'cancelled');
  const result = (await client.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema)) as CallToolResult;
  t.true(result.isError);
  t.like(result.structuredContent, { status: 'killed', error: 'the task was cancelled (tasks/cancel)' });
  const again = await t.throwsAsync(client.experimental.tasks.cancelTask(task.taskId), { instanceOf: McpError });
  t.is(again?.code, -32602, 'a terminal task cannot be cancelled (-32602, as the spec has it)');
});

test('over CAPSULE_OWNER_MAX_TASKS a task call is busy with retry_after_s; a finished task frees its place', async (t) => {
  const { runtime, catalog } = setup(t, { CAPSULE_OWNER_MAX_TASKS: '1' });
  const client = await connect(t, catalog.createServer());
  runtime.next = { runMs: Infinity };
  const first = await startTask(client, 'run_command', { command: 'sleep 60' });
  const refused = await t.throwsAsync(startTask(client, 'run_code', { language: 'python', code: 'print(1)' }), { instanceOf: McpError });
  t.is(refused?.code, -32000);
  t.like(refused?.data, { code: 'busy', limit: 'CAPSULE_OWNER_MAX_TASKS', max: 1, retry_after_s: 1 });
  t.is((await client.experimental.tasks.listTasks()).tasks.length, 1, 'the refusal made no task');
  await client.experimental.tasks.cancelTask(first.taskId);
  runtime.next = { exitCode: 0 };
  t.is((await startTask(client, 'run_command', { command: 'true' })).status, 'working');
});

test('a task call of a tool without task support is -32601; bad input is -32602 naming the problem', async (t) => {
  const { catalog } = setup(t);
  const client = await connect(t, catalog.createServer());
  const forbidden = await t.throwsAsync(startTask(client, 'list_runs', {}), { instanceOf: McpError });
  t.is(forbidden?.code, -32601);
  t.regex(forbidden?.message ?? '', /list_runs cannot run as a task/);
  const bad = await t.throwsAsync(startTask(client, 'run_code', { language: 'cobol', code: 'x' }), { instanceOf: McpError });
  t.is(bad?.code, -32602);
  t.regex(bad?.message ?? '', /Invalid arguments for tool run_code/);
  t.is((await client.experimental.tasks.listTasks()).tasks.length, 0);
});

test('another owner\'s task is not_found for tasks/get, tasks/result and tasks/cancel, and not listed', async (t) => {
  const { runtime, catalog } = setup(t);
  const alice = await connect(t, catalog.createServer('alice'));
  const bob = await connect(t, catalog.createServer('bob'));
  runtime.next = { runMs: Infinity };
  const task = await startTask(alice, 'run_command', { command: 'sleep 60' });
  for (const attempt of [bob.experimental.tasks.getTask(task.taskId), bob.experimental.tasks.getTaskResult(task.taskId, CallToolResultSchema), bob.experimental.tasks.cancelTask(task.taskId)]) {
    const err = await t.throwsAsync(attempt, { instanceOf: McpError });
    t.is(err?.code, -32602);
    t.is((err?.data as { code?: string } | undefined)?.code, 'not_found');
  }
  t.deepEqual((await bob.experimental.tasks.listTasks()).tasks, []);
  t.is((await alice.experimental.tasks.getTask(task.taskId)).status, 'working', 'bob\'s cancel changed nothing');
  await alice.experimental.tasks.cancelTask(task.taskId);
});

test('generate_code as a task is input_required while the client samples; the request is queued for tasks/result and carries the task', async (t) => {
  const { runtime, catalog } = setup(t);
  const client = await connect(t, catalog.createServer(), { capabilities: { sampling: {} } });
  const during: Array<{ status: string; related?: string }> = [];
  let taskId = '';
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    const related = (request.params._meta?.[RELATED_TASK_META_KEY] as { taskId?: string } | undefined)?.taskId;
    during.push({ status: (await client.experimental.tasks.getTask(taskId)).status, ...(related ? { related } : {}) });
    return { role: 'assistant', model: 'stand-in', content: { type: 'text', text: '```python\nprint(42)\n```' } };
  });
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('42\n') }], exitCode: 0 };
  const statuses: string[] = [];
  let result: CallToolResult | undefined;
  for await (const m of client.experimental.tasks.callToolStream({ name: 'generate_code', arguments: { task: 'print 42', language: 'python', max_attempts: 1 } }, CallToolResultSchema, { task: {} })) {
    if (m.type === 'taskCreated') taskId = m.task.taskId;
    if (m.type === 'taskStatus') statuses.push(m.task.status);
    if (m.type === 'result') result = m.result as CallToolResult;
  }
  t.true(statuses.includes('input_required'), statuses.join(','));
  t.deepEqual(during, [{ status: 'input_required', related: taskId }]);
  t.like(result?.structuredContent, { passed: true, model_source: 'mcp_sampling' });
  t.is((await client.experimental.tasks.getTask(taskId)).status, 'completed');
});

test('progress and live output of a task reach the client as notifications that name the task', async (t) => {
  const { runtime, catalog } = setup(t);
  const client = await connect(t, catalog.createServer());
  const messages: Array<{ data: unknown; task?: string }> = [];
  client.setNotificationHandler((await import('@modelcontextprotocol/sdk/types.js')).LoggingMessageNotificationSchema, (n) => {
    messages.push({ data: n.params.data, task: (n.params._meta?.[RELATED_TASK_META_KEY] as { taskId?: string } | undefined)?.taskId });
  });
  const progress: string[] = [];
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('one\n') }, { stream: 'stdout', data: Buffer.from('two\n') }], runMs: 200, exitCode: 0 };
  let taskId = '';
  for await (const m of client.experimental.tasks.callToolStream({ name: 'run_command', arguments: { command: 'echo one; echo two' } }, CallToolResultSchema, { task: {}, onprogress: (p) => progress.push(p.message ?? '') })) {
    if (m.type === 'taskCreated') taskId = m.task.taskId;
  }
  t.is(messages.map((m) => m.data).join(''), 'one\ntwo\n');
  t.true(messages.every((m) => m.task === taskId));
  t.true(progress.length > 0);
  t.is(progress.at(-1), 'two');
});

test('a task is a run: it counts against the owner\'s concurrency like any run', async (t) => {
  const { runtime, catalog } = setup(t, { CAPSULE_OWNER_MAX_CONCURRENT: '1' });
  const client = await connect(t, catalog.createServer());
  runtime.next = { runMs: Infinity };
  const task = await startTask(client, 'run_command', { command: 'sleep 60' });
  await until(() => client.experimental.tasks.getTask(task.taskId), (x) => /, run /.test(x.statusMessage ?? ''));
  const plain = (await client.callTool({ name: 'run_command', arguments: { command: 'echo' } })) as CallToolResult;
  t.true(plain.isError);
  t.regex((plain.content[0] as { text: string }).text, /^busy: owner "local" already has 1 runs in flight/);
  const second = await startTask(client, 'run_command', { command: 'echo' });
  const refused = (await client.experimental.tasks.getTaskResult(second.taskId, CallToolResultSchema)) as CallToolResult;
  t.true(refused.isError, 'a task whose run is refused ends failed with the refusal a plain call gets');
  t.regex((refused.content[0] as { text: string }).text, /^busy: /);
  t.like(await client.experimental.tasks.getTask(second.taskId), { status: 'failed' });
  await client.experimental.tasks.cancelTask(task.taskId);
});
