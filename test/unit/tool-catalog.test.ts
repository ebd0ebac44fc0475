import type { ToolDeps, ToolHost } from '../../server/mcp/tool-context.js';
import type { ToolTaskHandler } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/stores/in-memory.js';
import type { AnySchema } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import { testServices } from '../helpers/services.js';
import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type CallToolResult,
  CreateMessageRequestSchema,
  type JSONRPCMessage,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { createToolCatalog, registerCapsule } from '../../server/mcp/server.js';
import { sessionContext } from '../../server/mcp/session-state.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';


/** Raw JSON-RPC against a server (no client-side parsing): the answer exactly as the server sent it. */
async function rawPeer(server: McpServer) {
  const [peer, serverSide] = InMemoryTransport.createLinkedPair();
  const waiting = new Map<number, (m: JSONRPCMessage) => void>();
  peer.onmessage = (m) => {
    if ('id' in m && typeof m.id === 'number') waiting.get(m.id)?.(m);
  };
  await server.connect(serverSide);
  let next = 0;
  return (method: string, params: Record<string, unknown> = {}) => {
    const id = ++next;
    const answer = new Promise<JSONRPCMessage>((resolve) => waiting.set(id, resolve));
    void peer.send({ jsonrpc: '2.0', id, method, params });
    return answer.then((m) => ('result' in m ? m.result : m));
  };
}

async function client(server: McpServer, options: ConstructorParameters<typeof Client>[1] = {}) {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const c = new Client({ name: 'unit', version: '1' }, options);
  await Promise.all([server.connect(serverSide), c.connect(clientSide)]);
  return c;
}

/**
 * The same registrations on a plain McpServer: what the SDK itself does with them. Task tools go
 * through the SDK's own registerToolTask, over its in-memory task store, as its examples do.
 */
function plainServer(deps: ToolDeps): McpServer {
  const plain = new McpServer({ name: 'capsule', version: 'x' }, { capabilities: { tools: {}, logging: {}, resources: {}, tasks: { requests: { tools: { call: {} } } } }, taskStore: new InMemoryTaskStore() });
  const sdkStyle = (cb: (...a: unknown[]) => unknown): ToolTaskHandler<AnySchema> => ({
    createTask: async (args, extra) => {
      const task = await extra.taskStore.createTask({ pollInterval: 10 });
      void Promise.resolve(cb(args, extra)).then((r) => extra.taskStore.storeTaskResult(task.taskId, 'completed', r as CallToolResult));
      return { task };
    },
    getTask: (_args, extra) => extra.taskStore.getTask(extra.taskId),
    getTaskResult: (_args, extra) => extra.taskStore.getTaskResult(extra.taskId) as Promise<CallToolResult>,
  });
  const host: ToolHost = {
    registerTool: plain.registerTool.bind(plain),
    registerResource: plain.registerResource.bind(plain) as ToolHost['registerResource'],
    registerToolTask: (name, config, cb) => plain.experimental.tasks.registerToolTask(name, config as never, sdkStyle(cb as never)),
  };
  registerCapsule(host, deps, sessionContext);
  return plain;
}

test('a session lists exactly what the SDK lists for the same registrations (JSON Schemas included)', async (t) => {
  const deps = testServices(new FakeRuntime()).tools;
  const session = await rawPeer(createToolCatalog(deps).createServer());
  const plain = await rawPeer(plainServer(deps));
  const listed = (await session('tools/list')) as { tools: unknown[] };
  t.is(listed.tools.length, 32);
  t.deepEqual(listed, await plain('tools/list'));
  t.deepEqual(await session('resources/templates/list'), await plain('resources/templates/list'));
});

test('input validation errors are the SDK\'s own, word for word', async (t) => {
  const deps = testServices(new FakeRuntime()).tools;
  const session = await rawPeer(createToolCatalog(deps).createServer());
  const plain = await rawPeer(plainServer(deps));
  for (const params of [{ name: 'run_code', arguments: { language: 'cobol', code: 'x' } }, { name: 'calculate', arguments: {} }, { name: 'no_such_tool', arguments: {} }]) {
    const mine = (await session('tools/call', params)) as CallToolResult;
    t.true(mine.isError, params.name);
    t.deepEqual(mine, await plain('tools/call', params), params.name);
  }
});

test('logging/setLevel is per session: a session at level error gets no output notifications, another still does', async (t) => {
  const runtime = new FakeRuntime();
  const catalog = createToolCatalog(testServices(runtime).tools);
  const quiet = await client(catalog.createServer());
  const loud = await client(catalog.createServer());
  const seen = { quiet: 0, loud: 0 };
  quiet.setNotificationHandler(LoggingMessageNotificationSchema, () => void seen.quiet++);
  loud.setNotificationHandler(LoggingMessageNotificationSchema, () => void seen.loud++);
  await quiet.setLoggingLevel('error');
  for (const c of [quiet, loud]) {
    runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('hello\n') }], exitCode: 0 };
    const r = (await c.callTool({ name: 'run_command', arguments: { command: 'echo hello' } })) as CallToolResult;
    t.is(r.structuredContent?.['stdout'], 'hello\n');
  }
  t.is(seen.quiet, 0);
  t.true(seen.loud > 0, 'the other session still gets its output');
});

test('generate_code samples through the calling session\'s client only when that client can sample', async (t) => {
  const runtime = new FakeRuntime();
  const catalog = createToolCatalog(testServices(runtime).tools);
  const sampler = await client(catalog.createServer(), { capabilities: { sampling: {} } });
  let asked = 0;
  sampler.setRequestHandler(CreateMessageRequestSchema, async () => {
    asked++;
    return { role: 'assistant', model: 'stand-in', content: { type: 'text', text: '```python\nprint(42)\n```' } };
  });
  const plainClient = await client(catalog.createServer());
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('42\n') }], exitCode: 0 };
  const sampled = (await sampler.callTool({ name: 'generate_code', arguments: { task: 'print 42', language: 'python', max_attempts: 1 } })) as CallToolResult;
  t.is(sampled.structuredContent?.['model_source'], 'mcp_sampling');
  t.is(asked, 1);
  const refused = (await plainClient.callTool({ name: 'generate_code', arguments: { task: 'print 42', language: 'python' } })) as CallToolResult;
  t.true(refused.isError);
  t.regex((refused.content[0] as { text: string }).text, /needs a model: use a client that supports MCP sampling/);
  t.is(asked, 1, 'the other session\'s client was not asked');
});

test('a tool served outside a catalog session is an internal error result, not a crash', async (t) => {
  const plain = await client(plainServer(testServices(new FakeRuntime()).tools));
  const r = (await plain.callTool({ name: 'run_command', arguments: { command: 'echo' } })) as CallToolResult;
  t.true(r.isError);
  t.regex((r.content[0] as { text: string }).text, /^internal: /);
});

test('the run tools\' _meta (the MCP App\'s ui.resourceUri) survives the catalog into every session\'s tools/list; the ui:// page is listed like a plain server lists it', async (t) => {
  const deps = testServices(new FakeRuntime()).tools;
  const catalog = createToolCatalog(deps);
  const plain = await rawPeer(plainServer(deps));
  for (const server of [catalog.createServer(), catalog.createServer()]) {
    const session = await rawPeer(server);
    const { tools } = (await session('tools/list')) as { tools: Array<{ name: string; _meta?: { ui?: { resourceUri?: string } } }> };
    const withApp = tools.filter((tool) => tool._meta?.ui?.resourceUri === 'ui://capsule/run-viewer').map((tool) => tool.name);
    t.deepEqual(withApp.sort(), ['profile_code', 'run_code', 'run_command', 'run_tests', 'start_process']);
    const resources = await session('resources/list');
    t.deepEqual(resources, await plain('resources/list'));
    t.like((resources as { resources: Array<{ uri: string }> }).resources.find((r) => r.uri === 'ui://capsule/run-viewer'), { mimeType: 'text/html;profile=mcp-app' });
  }
});
