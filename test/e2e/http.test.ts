import test from 'ava';
import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, McpError } from '@modelcontextprotocol/sdk/types.js';
import { containersLeft, requireEngine, runtime } from '../helpers/engine.js';
import { startServer, type RunningServer } from '../helpers/server-process.js';

let server: RunningServer;
let client: Client;

test.before(async () => {
  await requireEngine();
  server = await startServer();
  client = new Client({ name: 'e2e-http', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(server.url));
  await client.listTools(); // as hosts do: the SDK then checks every structured result against its outputSchema
});

test.after.always(async () => {
  await client?.close();
  await server?.stop();
});

test('run_command "echo hi; id -u" gets hi and 10001 from a container that is gone afterwards', async (t) => {
  const result = (await client.callTool({ name: 'run_command', arguments: { command: 'echo hi; id -u' } })) as CallToolResult;
  const s = result.structuredContent as Record<string, unknown>;
  t.falsy(result.isError);
  t.is(s['status'], 'exited');
  t.is(s['stdout'], 'hi\n10001\n');
  t.is(s['exit_code'], 0);
  t.is((await containersLeft({ 'capsule.run_id': String(s['run_id']) })).length, 0);
  t.regex((result.content[0] as { text: string }).text, /hi\n10001/);
});

test('run_code runs python, javascript, typescript and bash over HTTP', async (t) => {
  const cases = [
    ['python', 'print(6 * 7)'],
    ['javascript', 'console.log(6 * 7)'],
    ['typescript', 'const n: number = 6 * 7; console.log(n)'],
    ['bash', 'echo $((6 * 7))'],
  ] as const;
  const results = await Promise.all(
    cases.map(([language, code]) => client.callTool({ name: 'run_code', arguments: { language, code } }) as Promise<CallToolResult>),
  );
  for (const [i, r] of results.entries()) t.is((r.structuredContent as { stdout: string }).stdout, '42\n', cases[i]![0]);
});

test('a failing command is isError with its exit code and stderr', async (t) => {
  const r = (await client.callTool({ name: 'run_command', arguments: { command: 'echo nope >&2; exit 4' } })) as CallToolResult;
  t.true(r.isError);
  t.is((r.structuredContent as { exit_code: number }).exit_code, 4);
  t.is((r.structuredContent as { stderr: string }).stderr, 'nope\n');
});

test('bad input gets a clear error and runs nothing', async (t) => {
  const r = (await client.callTool({ name: 'run_command', arguments: { command: 'echo', timeout_ms: 999_999_999 } })) as CallToolResult;
  t.true(r.isError);
  t.regex((r.content[0] as { text: string }).text, /invalid_input: timeout_ms must be an integer from 1 to 300000/);
});

test('list_profiles and system_info answer', async (t) => {
  const profiles = (await client.callTool({ name: 'list_profiles', arguments: {} })) as CallToolResult;
  t.is((profiles.structuredContent as { profiles: Array<{ name: string }> }).profiles[0]!.name, 'default');
  const info = (await client.callTool({ name: 'system_info', arguments: {} })) as CallToolResult;
  const s = info.structuredContent as { engine: { version: string }; images: Array<{ present: boolean }>; host: { cpus: number } };
  t.truthy(s.engine.version);
  t.true(s.host.cpus > 0);
  t.true(s.images.every((i) => i.present));
});

test('healthz and readyz', async (t) => {
  const health = await fetch(`${server.base}/healthz`);
  t.is(health.status, 200);
  const ready = await fetch(`${server.base}/readyz`);
  t.is(ready.status, 200);
  t.is(((await ready.json()) as { status: string }).status, 'ready');
});

test('a bad Host header is refused (DNS-rebinding protection on loopback)', async (t) => {
  // fetch() cannot set Host; node:http can.
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.url.port, path: '/mcp', method: 'POST', headers: { host: 'evil.example', 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }));
  });
  t.is(status, 403);
});

test('malformed JSON gets a JSON-RPC parse error and the server keeps serving', async (t) => {
  const res = await fetch(`${server.base}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: '{"jsonrpc": "2.0", "id": 1, "method": ',
  });
  t.is(res.status, 400);
  t.is(((await res.json()) as { error: { code: number } }).error.code, -32700);
  t.is((await fetch(`${server.base}/healthz`)).status, 200);
});

test('a missing resource answers JSON-RPC -32002 (resource not found) with the stable code, not -32603', async (t) => {
  for (const uri of ['capsule://workspaces/ws_0000000000000000', 'capsule://workspaces/ws_0000000000000000/files/a.txt', 'capsule://runs/run_0000000000000000/flamegraph.html']) {
    const err = await t.throwsAsync<McpError>(() => client.readResource({ uri }));
    t.is(err?.code, -32002, uri);
    t.is((err?.data as { code?: string } | undefined)?.code, 'not_found', uri);
  }
  const bad = await t.throwsAsync<McpError>(() => client.readResource({ uri: 'capsule://workspaces/not-an-id' }));
  t.is(bad?.code, -32602, 'a malformed id is an invalid parameter');
});
