import test from 'ava';
import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { requireEngine } from '../helpers/engine.js';
import { startServer, type RunningServer } from '../helpers/server-process.js';

// The HTTP edge with tokens configured: no token, wrong token, bad Host, oversized body, owner isolation.
const TOKEN_A = 'alice-token-0123456789abcdef';
const TOKEN_B = 'bob-token-0123456789abcdef01';
let server: RunningServer;

test.before(async () => {
  await requireEngine();
  server = await startServer({ CAPSULE_TOKENS: `alice:${TOKEN_A},bob:${TOKEN_B}`, CAPSULE_MAX_BODY_BYTES: '65536' });
});
test.after.always(async () => {
  await server?.stop();
});

function post(path: string, headers: Record<string, string>, body: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.url.port, path, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });

test('no token: 401 with a Bearer challenge', async (t) => {
  const res = await post('/mcp', {}, init);
  t.is(res.status, 401);
  t.regex(String(res.headers['www-authenticate']), /^Bearer/);
});

test('wrong token: 401', async (t) => {
  const res = await post('/mcp', { authorization: 'Bearer not-a-real-token-000000' }, init);
  t.is(res.status, 401);
});

test('healthz stays open without a token', async (t) => {
  t.is((await fetch(`${server.base}/healthz`)).status, 200);
});

test('bad Host header: 403 even with a valid token', async (t) => {
  const res = await post('/mcp', { host: 'attacker.example', authorization: `Bearer ${TOKEN_A}` }, init);
  t.is(res.status, 403);
});

test('oversized body: 413 JSON-RPC error, server keeps serving', async (t) => {
  const res = await post('/mcp', { authorization: `Bearer ${TOKEN_A}` }, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', params: { pad: 'x'.repeat(100_000) } }));
  t.is(res.status, 413);
  t.regex(res.body, /too large/);
  t.is((await fetch(`${server.base}/healthz`)).status, 200);
});

test('a valid token works end to end and runs are labelled with the owner', async (t) => {
  const client = new Client({ name: 'alice', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(server.url, { requestInit: { headers: { authorization: `Bearer ${TOKEN_A}` } } }));
  await client.listTools(); // as hosts do: the SDK then checks every structured result against its outputSchema
  const r = (await client.callTool({ name: 'run_command', arguments: { command: 'echo owned' } })) as CallToolResult;
  t.is((r.structuredContent as { stdout: string }).stdout, 'owned\n');
  await client.close();
});

test("another owner cannot use alice's session", async (t) => {
  const client = new Client({ name: 'alice', version: '1' });
  const transport = new StreamableHTTPClientTransport(server.url, { requestInit: { headers: { authorization: `Bearer ${TOKEN_A}` } } });
  await client.connect(transport);
  const res = await post('/mcp', { authorization: `Bearer ${TOKEN_B}`, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-06-18' }, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
  t.is(res.status, 403);
  await client.close();
});
