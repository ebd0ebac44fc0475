import test from 'ava';
import { LoggingMessageNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { httpClient } from '../helpers/mcp-client.js';
import { serverForThisFile } from '../helpers/file-server.js';

const server = serverForThisFile();

const SCRIPT = 'for i in 1 2 3 4 5; do echo "line $i"; sleep 0.2; done';

test('output streams as log and progress notifications before the result, in order, losing nothing', async (t) => {
  const { client } = await httpClient(server().url);
  const events: Array<{ kind: string; data?: string; at: number }> = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    events.push({ kind: `log:${n.params.logger}`, data: String(n.params.data), at: Date.now() });
  });
  const progress: Array<{ progress: number; message?: string }> = [];
  const result = (await client.callTool({ name: 'run_command', arguments: { command: SCRIPT } }, undefined, {
    onprogress: (p) => progress.push(p),
  })) as CallToolResult;
  const finished = Date.now();
  const stdout = (result.structuredContent as { stdout: string }).stdout;
  const logs = events.filter((e) => e.kind === 'log:stdout');
  t.true(logs.length >= 3, `${logs.length} log notifications`);
  t.true(logs.every((e) => e.at <= finished));
  t.is(logs.map((e) => e.data).join(''), stdout, 'notifications concatenate to the final output');
  t.is(stdout, 'line 1\nline 2\nline 3\nline 4\nline 5\n');
  t.true(progress.length >= 3, `${progress.length} progress notifications`);
  for (let i = 1; i < progress.length; i++) t.true(progress[i]!.progress > progress[i - 1]!.progress, 'progress increases');
  t.regex(progress.at(-1)!.message ?? '', /line 5/);
  await client.close();
});

test('logging/setLevel is honoured: at level error, no output notifications are sent', async (t) => {
  const { client } = await httpClient(server().url);
  let count = 0;
  client.setNotificationHandler(LoggingMessageNotificationSchema, () => void count++);
  await client.setLoggingLevel('error');
  const result = (await client.callTool({ name: 'run_command', arguments: { command: 'echo a; echo b >&2' } })) as CallToolResult;
  t.is((result.structuredContent as { stdout: string }).stdout, 'a\n');
  t.is(count, 0);
  await client.close();
});

test('a client that drops the connection resumes with Last-Event-ID and gets what it missed (SDK event store)', async (t) => {
  const { transport, client } = await httpClient(server().url);
  const sessionId = transport.sessionId!;
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' };
  const controller = new AbortController();
  const res = await fetch(server().url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: 'run_command', arguments: { command: 'for i in 1 2 3 4 5 6; do echo "tick $i"; sleep 0.3; done' } } }),
    signal: controller.signal,
  });
  // Read until the first event with an id, then drop the connection.
  const reader = res.body!.getReader();
  let text = '';
  let lastId: string | undefined;
  while (!lastId) {
    const { value } = await reader.read();
    text += new TextDecoder().decode(value);
    lastId = /^id: (.+)$/m.exec(text)?.[1];
  }
  controller.abort();
  const firstData = text;

  // Until the server notices the dropped connection it answers 409 (stream still attached): retry like a client would.
  let resumed = await fetch(server().url, { method: 'GET', headers: { ...headers, 'last-event-id': lastId } });
  for (let i = 0; i < 20 && resumed.status === 409; i++) {
    await new Promise((r) => setTimeout(r, 100));
    resumed = await fetch(server().url, { method: 'GET', headers: { ...headers, 'last-event-id': lastId } });
  }
  t.is(resumed.status, 200);
  const rest = await resumed.text();
  t.regex(rest, /"id":77/, 'the final result arrives on the resumed stream');
  const all = firstData + rest;
  for (let i = 1; i <= 6; i++) t.regex(all, new RegExp(`tick ${i}`), `tick ${i} seen once resumed`);
  await client.close();
});
