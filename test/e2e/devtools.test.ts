import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpClient } from '../helpers/mcp-client.js';
import { startServer } from '../helpers/server-process.js';
import { serverForThisFile } from '../helpers/file-server.js';

const server = serverForThisFile();

test('acceptance: run_tests on 3 passing and 1 failing pytest tests', async (t) => {
  const { call, client } = await httpClient(server().url);
  const ws = (await call<{ workspace_id: string }>('create_workspace')).s.workspace_id;
  // Deleted on every path (a failed call would otherwise leave the volume until its TTL).
  t.teardown(async () => {
    await call('delete_workspace', { workspace_id: ws }).catch(() => undefined);
    await client.close();
  });
  await call('write_files', {
    workspace_id: ws,
    files: [
      { path: 'shop.py', content: 'def total(prices):\n    return sum(prices)\n\ndef discount(p):\n    return p * 0.9\n' },
      {
        path: 'test_shop.py',
        content:
          'from shop import total, discount\n\ndef test_total():\n    assert total([1, 2]) == 3\n\ndef test_empty():\n    assert total([]) == 0\n\n' +
          'def test_discount():\n    assert discount(10) == 9\n\ndef test_wrong():\n    assert total([2, 2]) == 5, "two and two is not five"\n',
      },
    ],
  });
  const r = await call<{ passed: number; failed: number; skipped: number; framework: string; cases: Array<{ name: string; status: string; message?: string }> }>('run_tests', { workspace_id: ws });
  t.is(r.s.framework, 'pytest');
  t.is(r.s.passed, 3);
  t.is(r.s.failed, 1);
  const failing = r.s.cases.find((c) => c.status === 'failed');
  t.is(failing?.name, 'test_wrong');
  t.regex(failing?.message ?? '', /two and two is not five/);
  t.true(r.result.isError, 'a failing suite is flagged');
});

test('acceptance: analyze_code reports an undefined variable in JS with its line', async (t) => {
  const { call, client } = await httpClient(server().url);
  const r = await call<{ diagnostics: Array<{ line: number; rule: string; severity: string; message: string }>; metrics: Record<string, number> }>('analyze_code', {
    language: 'javascript',
    code: 'function area(r) {\n  return Math.PI * r * r;\n}\n\nconsole.log(area(radius));\n',
  });
  const undef = r.s.diagnostics.find((d) => d.rule === 'no-undef');
  t.truthy(undef, JSON.stringify(r.s.diagnostics));
  t.is(undef!.line, 5);
  t.is(undef!.severity, 'error');
  t.regex(undef!.message, /radius/);
  t.true((r.s.metrics['functions'] ?? 0) >= 1, JSON.stringify(r.s.metrics));
  const py = await call<{ diagnostics: Array<{ line: number; severity: string }> }>('analyze_code', { language: 'python', code: 'def f(:\n    pass\n' });
  t.true(py.s.diagnostics.some((d) => d.severity === 'error' && d.line === 1), JSON.stringify(py.s.diagnostics));
  await client.close();
});

test('acceptance: generate_code completes the sampling loop: wrong first, right second', async (t) => {
  const client = new Client({ name: 'sampler', version: '1' }, { capabilities: { sampling: {} } });
  const prompts: string[] = [];
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    const last = req.params.messages.at(-1)!.content as { type: string; text: string };
    prompts.push(last.text);
    const wrong = prompts.length === 1;
    return {
      role: 'assistant',
      model: 'test-model',
      content: { type: 'text', text: `Here you go:\n\`\`\`python\ndef add(a, b):\n    return a ${wrong ? '-' : '+'} b\n\`\`\`\n` },
    };
  });
  await client.connect(new StreamableHTTPClientTransport(server().url));
  await client.listTools(); // as hosts do: the SDK then checks every structured result against its outputSchema
  const r = (await client.callTool({ name: 'generate_code', arguments: { task: 'Write add(a, b).', language: 'python', tests: 'assert add(2, 3) == 5\nprint("ok")', max_attempts: 3 } })) as CallToolResult;
  const s = r.structuredContent as { passed: boolean; code: string; attempts: Array<{ passed: boolean; feedback?: string; model?: string }>; model_source: string; result: { stdout: string } };
  t.true(s.passed, JSON.stringify(s));
  t.is(s.attempts.length, 2);
  t.false(s.attempts[0]!.passed);
  t.regex(s.attempts[0]!.feedback ?? '', /AssertionError/);
  t.is(s.attempts[1]!.model, 'test-model');
  t.regex(s.code, /return a \+ b/);
  t.is(s.result.stdout, 'ok\n');
  t.is(s.model_source, 'mcp_sampling');
  t.regex(prompts[1]!, /AssertionError/, 'the failure was fed back to the model');
  await client.close();
});

test('generate_code without sampling and without a server model is a clear error', async (t) => {
  const { call, client } = await httpClient(server().url);
  const r = await call('generate_code', { task: 'x', language: 'python' });
  t.true(r.result.isError);
  t.regex(r.text, /needs a model: use a client that supports MCP sampling.*CAPSULE_MODEL_URL/);
  await client.close();
});

test('generate_code falls back to an OpenAI-compatible endpoint (a local stand-in)', async (t) => {
  let calls = 0;
  const fake = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      calls++;
      t.is(req.url, '/v1/chat/completions');
      t.regex(body, /"model":"fake-coder"/);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { role: 'assistant', content: '```javascript\nconsole.log([3,1,2].sort().join(","))\n```' } }] }));
    });
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const { port } = fake.address() as AddressInfo;
  const withModel = await startServer({ CAPSULE_MODEL_URL: `http://127.0.0.1:${port}/v1`, CAPSULE_MODEL: 'fake-coder', CAPSULE_MODEL_API_KEY: 'sk-test-never-logged' });
  try {
    const { call, client } = await httpClient(withModel.url);
    const r = await call<{ passed: boolean; model_source: string; result: { stdout: string } }>('generate_code', { task: 'sort', language: 'javascript' });
    t.true(r.s.passed);
    t.is(r.s.model_source, 'server_model');
    t.is(r.s.result.stdout, '1,2,3\n');
    t.is(calls, 1);
    t.false(withModel.stderr().includes('sk-test-never-logged'));
    await client.close();
  } finally {
    await withModel.stop();
    fake.close();
  }
});

test('calculate: units and big numbers; escapes refused', async (t) => {
  const { call, client } = await httpClient(server().url);
  t.is((await call<{ result: string }>('calculate', { expression: '2^100' })).s.result, '1267650600228229401496703205376');
  t.regex((await call<{ result: string }>('calculate', { expression: '5 cm + 2 inch to mm' })).s.result, /^100\.8 mm$/);
  const escape = await call('calculate', { expression: '[].constructor.constructor("return process")()' });
  t.true(escape.result.isError);
  t.regex(escape.text, /^invalid_input:/);
  await client.close();
});

test('context store: set, get, list, delete; scoped to the owner; survives a restart', async (t) => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dataDir = mkdtempSync(join(tmpdir(), 'capsule-context-'));
  const tokens = 'ann:ann-token-0123456789abcdef,bob:bob-token-0123456789abcdef';
  const first = await startServer({ CAPSULE_DATA_DIR: dataDir, CAPSULE_TOKENS: tokens });
  const ann = await httpClient(first.url, { authorization: 'Bearer ann-token-0123456789abcdef' });
  await ann.call('set_context', { key: 'plan', value: { step: 2, files: ['a.py'] } });
  const bob = await httpClient(first.url, { authorization: 'Bearer bob-token-0123456789abcdef' });
  const hidden = await bob.call('get_context', { key: 'plan' });
  t.true(hidden.result.isError, 'another owner does not see it');
  await ann.client.close();
  await bob.client.close();
  await first.stop();
  const second = await startServer({ CAPSULE_DATA_DIR: dataDir, CAPSULE_TOKENS: tokens, CAPSULE_INSTANCE: first.instance });
  try {
    const again = await httpClient(second.url, { authorization: 'Bearer ann-token-0123456789abcdef' });
    t.deepEqual((await again.call<{ value: unknown }>('get_context', { key: 'plan' })).s.value, { step: 2, files: ['a.py'] });
    t.deepEqual((await again.call<{ keys: Array<{ key: string }> }>('list_context')).s.keys.map((k) => k.key), ['plan']);
    t.true((await again.call<{ deleted: boolean }>('delete_context', { key: 'plan' })).s.deleted);
    t.true((await again.call('get_context', { key: 'plan' })).result.isError);
    const big = await again.call('set_context', { key: 'big', value: 'x'.repeat(100_000) });
    t.true(big.result.isError);
    t.regex(big.text, /quota_exceeded/);
    await again.client.close();
  } finally {
    await second.stop();
  }
});

test('run_command with cache: true replays the stored result', async (t) => {
  const { call, client } = await httpClient(server().url);
  const a = await call<{ cached: boolean; stdout: string }>('run_command', { command: 'date +%s%N', cache: true });
  const b = await call<{ cached: boolean; stdout: string }>('run_command', { command: 'date +%s%N', cache: true });
  t.false(a.s.cached);
  t.true(b.s.cached);
  t.is(b.s.stdout, a.s.stdout);
  await client.close();
});
