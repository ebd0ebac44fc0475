import test from 'ava';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { runtime } from '../helpers/engine.js';
import { serverForThisFile } from '../helpers/file-server.js';
import { schemaViolations } from '../helpers/json-schema.js';
import { httpClient } from '../helpers/mcp-client.js';

const server = serverForThisFile({}, async (s) => {
  for (const v of await runtime.listVolumes({ 'capsule.instance': s.instance })) await runtime.removeVolume(v.name).catch(() => undefined);
});

type Structured = Record<string, any>;

/**
 * A client that lists tools first (as hosts do, so the SDK validates every structured result against
 * the listed outputSchema) and records, for each call, whatever breaks the contract.
 */
async function contractClient() {
  const { client } = await httpClient(server().url);
  const { tools } = await client.listTools();
  const listed = new Map<string, Tool>(tools.map((tool) => [tool.name, tool]));
  const problems: string[] = [];
  const called = new Set<string>();
  /** Call a tool; `mayFail` lets an isError result pass (its structured content, if any, is still checked). */
  async function call(name: string, args: Record<string, unknown> = {}, mayFail = false): Promise<Structured> {
    called.add(name);
    let r: CallToolResult;
    try {
      r = (await client.callTool({ name, arguments: args })) as CallToolResult;
    } catch (err) {
      problems.push(`${name}: the client threw: ${(err as Error).message}`);
      return {};
    }
    const text = (r.content[0] as { text?: string } | undefined)?.text ?? '';
    const schema = listed.get(name)?.outputSchema;
    if (r.isError && !mayFail) problems.push(`${name}: isError: ${text.slice(0, 300)}`);
    if (schema && !r.isError && !r.structuredContent) problems.push(`${name}: declares an outputSchema but returned no structuredContent`);
    if (schema && r.structuredContent) {
      const violations = schemaViolations(schema as Record<string, unknown>, r.structuredContent);
      if (violations) problems.push(`${name}: ${violations}`);
    }
    return (r.structuredContent ?? {}) as Structured;
  }
  return { client, tools, problems, called, call };
}

test('every listed tool, called with valid input after tools/list, returns structured content its outputSchema accepts', async (t) => {
  t.timeout(300_000);
  const { client, tools, problems, called, call } = await contractClient();
  try {
    t.deepEqual(tools.filter((tool) => !tool.outputSchema).map((tool) => tool.name), [], 'every tool declares an outputSchema');
    // The MCP App's link survives the catalog into tools/list (hosts without MCP Apps ignore it).
    const withApp = tools.filter((tool) => (tool._meta as { ui?: { resourceUri?: string } } | undefined)?.ui?.resourceUri === 'ui://capsule/run-viewer');
    t.deepEqual(withApp.map((tool) => tool.name).sort(), ['profile_code', 'run_code', 'run_command', 'run_tests', 'start_process']);

    // Workspaces and files.
    const ws = (await call('create_workspace', { ttl_s: 600 })).workspace_id as string;
    await call('write_files', {
      workspace_id: ws,
      files: [
        { path: 'shop.py', content: 'def total(prices):\n    return sum(prices)\n' },
        { path: 'test_shop.py', content: 'from shop import total\n\ndef test_total():\n    assert total([1, 2]) == 3\n' },
        { path: 'bin/tool.sh', content: 'echo tool\n', mode: 0o755 },
        { path: 'junk/a.txt', content: 'x' },
      ],
    });
    await call('read_file', { workspace_id: ws, path: 'shop.py' });
    await call('read_file', { workspace_id: ws, path: 'shop.py', encoding: 'base64', offset: 4, max_bytes: 5 });
    await call('list_files', { workspace_id: ws, recursive: true });
    await call('list_workspaces');
    await call('delete_files', { workspace_id: ws, paths: ['junk'] });

    // One-shot runs in every shape a result takes: on a workspace with collect, embedded collect,
    // a failure, a timeout, a cached replay.
    const onWorkspace = await call('run_command', { command: 'echo hi > out.txt; echo hi', workspace_id: ws, collect: ['out.txt'] });
    const embedded = await call('run_command', { command: 'mkdir -p out && echo data > out/a.txt', collect: ['out/*.txt'] });
    const failed = await call('run_command', { command: 'echo nope >&2; exit 3' }, true);
    const timedOut = await call('run_command', { command: 'sleep 30', timeout_ms: 500 }, true);
    await call('run_command', { command: 'echo cached', cache: true });
    const replayed = await call('run_command', { command: 'echo cached', cache: true });
    const code = await call('run_code', { language: 'python', code: 'import sys\nprint(sys.argv[1:])', args: ['a'] });
    await call('get_run', { run_id: onWorkspace.run_id });
    await call('get_run', { run_id: code.run_id });
    await call('list_runs', { limit: 50 });
    // The optional parts of a result were there to be checked.
    t.like(onWorkspace, { workspace: { workspace_id: ws, over_quota: false }, files: [{ path: 'out.txt' }] });
    t.like(embedded, { files: [{ path: 'out/a.txt', content: 'data\n', encoding: 'utf8' }] });
    t.like(failed, { status: 'exited', exit_code: 3 });
    t.like(timedOut, { status: 'timed_out' });
    t.like(replayed, { cached: true, stdout: 'cached\n' });

    // Background processes: stdin, output, wait, stats; a second one polled while running, then killed.
    const p = (await call('start_process', { command: 'read line; echo "got $line"; echo err >&2', stdin_open: true })).process_id as string;
    await call('list_processes');
    await call('write_process_stdin', { process_id: p, data: 'hello\n', eof: true });
    t.like(await call('wait_process', { process_id: p, timeout_ms: 60_000 }), { done: true, result: { stdout: 'got hello\n', stderr: 'err\n' } });
    await call('read_process_output', { process_id: p });
    await call('container_stats', { process_id: p });
    const long = (await call('start_process', { language: 'python', code: 'import time\nprint("up", flush=True)\ntime.sleep(300)' })).process_id as string;
    t.like(await call('wait_process', { process_id: long, timeout_ms: 0 }), { done: false, state: 'running', result: null });
    await call('container_stats', { process_id: long });
    await call('kill_process', { process_id: long });
    t.like(await call('wait_process', { process_id: long, timeout_ms: 30_000 }), { done: true, state: 'killed' });

    // Profiling a code block (both profilers), and the server itself, in order.
    t.like(await call('profile_code', { language: 'python', code: 'def f(n):\n    return 1 if n < 2 else f(n - 1) + f(n - 2)\nprint(f(18))' }), { profile: { tool: 'cprofile' } });
    t.like(await call('profile_code', { language: 'javascript', code: 'function f(n) { return n < 2 ? 1 : f(n - 1) + f(n - 2); }\nconsole.log(f(22));' }), { profile: { tool: '0x' } });
    await call('start_server_profiling');
    await call('server_profiling_status');
    await call('calculate', { expression: '2^10 + 1' });
    await call('stop_server_profiling');
    await call('server_profiling_status');

    // Developer tools and the context store.
    await call('analyze_code', { language: 'python', code: 'import os\n\ndef f(x):\n    return x + 1\n' });
    await call('analyze_code', { language: 'javascript', code: 'console.log(radius);\n' });
    t.like(await call('run_tests', { workspace_id: ws }), { framework: 'pytest', passed: 1, failed: 0 });
    await call('calculate', { expression: '5 cm + 2 inch to mm' });
    // No model configured and no sampling capability: an isError result is fine, a schema error is not.
    await call('generate_code', { task: 'Write add(a, b).', language: 'python', max_attempts: 1 }, true);
    await call('set_context', { key: 'contract.key', value: { nested: [1, 'two'] }, ttl_s: 600 });
    await call('set_context', { key: 'contract.forever', value: 'plain' });
    await call('get_context', { key: 'contract.key' });
    await call('list_context');
    await call('delete_context', { key: 'contract.key' });
    await call('delete_context', { key: 'contract.never-set' });

    await call('list_profiles');
    await call('system_info');
    await call('delete_workspace', { workspace_id: ws });
  } finally {
    await client.close();
  }
  t.deepEqual(problems, [], 'every call keeps the contract');
  t.deepEqual([...called].sort(), tools.map((tool) => tool.name).sort(), 'every listed tool has a contract case, and only listed tools were called');
});
