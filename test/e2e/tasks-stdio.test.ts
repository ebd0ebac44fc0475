import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema, type CallToolResult, CreateTaskResultSchema, LoggingMessageNotificationSchema, RELATED_TASK_META_KEY } from '@modelcontextprotocol/sdk/types.js';
import { requireEngine, runtime } from '../helpers/engine.js';
import { CLI } from '../helpers/server-process.js';

// MCP tasks over stdio (`capsule serve --stdio`), through the SDK client's own task API.

test.before(requireEngine);

async function stdioClient(): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'serve', '--stdio'],
    env: { ...(process.env as Record<string, string>), CAPSULE_LOG_LEVEL: 'warn', CAPSULE_INSTANCE: 'e2e-stdio-tasks' },
    stderr: 'pipe',
  });
  const client = new Client({ name: 'e2e-stdio-tasks', version: '1.0.0' });
  await client.connect(transport);
  await client.listTools();
  return client;
}

test('over stdio: callToolStream yields taskCreated, status updates and the result; tasks/get, tasks/list and tasks/cancel work', async (t) => {
  const client = await stdioClient();
  try {
    const related: Array<string | undefined> = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void related.push((n.params._meta?.[RELATED_TASK_META_KEY] as { taskId?: string } | undefined)?.taskId));
    const seen: string[] = [];
    let taskId = '';
    let result: CallToolResult | undefined;
    for await (const m of client.experimental.tasks.callToolStream({ name: 'run_command', arguments: { command: 'sleep 2; echo ok' } }, CallToolResultSchema, { task: { ttl: 600_000 } })) {
      seen.push(m.type === 'taskStatus' ? m.task.status : m.type);
      if (m.type === 'taskCreated') taskId = m.task.taskId;
      if (m.type === 'result') result = m.result as CallToolResult;
    }
    t.is(seen[0], 'taskCreated');
    t.true(seen.includes('working'), seen.join(','));
    t.deepEqual(seen.slice(-2), ['completed', 'result']);
    t.like(result?.structuredContent, { status: 'exited', stdout: 'ok\n' });
    t.deepEqual(related, [taskId], 'the output notification names the task');
    t.is((await client.experimental.tasks.getTask(taskId)).status, 'completed');
    t.deepEqual((await client.experimental.tasks.listTasks()).tasks.map((x) => x.taskId).includes(taskId), true);

    const { task } = await client.request({ method: 'tools/call', params: { name: 'run_command', arguments: { command: 'sleep 60' }, task: {} } }, CreateTaskResultSchema);
    let runId: string | undefined;
    for (let i = 0; i < 200 && !runId; i++) {
      const m = /, run (\S+)/.exec((await client.experimental.tasks.getTask(task.taskId)).statusMessage ?? '');
      if (m && (await runtime.list({ 'capsule.run_id': m[1]! })).length) runId = m[1];
      else await new Promise((r) => setTimeout(r, 100));
    }
    t.truthy(runId, 'the task names its run, whose container runs');
    t.is((await client.experimental.tasks.cancelTask(task.taskId)).status, 'cancelled');
    t.deepEqual(await runtime.list({ 'capsule.run_id': runId! }), [], 'its container is gone once tasks/cancel is answered');
  } finally {
    await client.close();
  }
});
