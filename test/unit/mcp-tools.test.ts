import { testServices } from '../helpers/services.js';
import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createMcpServer } from '../../server/mcp/server.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';


async function connect(runtime: FakeRuntime) {
  const server = createMcpServer(testServices(runtime).tools);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'unit', version: '1' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return client;
}

test('lists the tools with input and output schemas', async (t) => {
  const client = await connect(new FakeRuntime());
  const { tools } = await client.listTools();
  const names = tools.map((tool) => tool.name).sort();
  t.deepEqual(names, [
    'analyze_code', 'calculate', 'container_stats', 'create_workspace', 'delete_context', 'delete_files', 'delete_workspace', 'generate_code',
    'get_context', 'get_run', 'kill_process', 'list_context', 'list_files', 'list_processes', 'list_profiles', 'list_runs', 'list_workspaces',
    'profile_code', 'read_file', 'read_process_output', 'run_code', 'run_command', 'run_tests', 'server_profiling_status', 'set_context',
    'start_process', 'start_server_profiling', 'stop_server_profiling', 'system_info', 'wait_process', 'write_files', 'write_process_stdin',
  ]);
  const run = tools.find((tool) => tool.name === 'run_command')!;
  t.truthy(run.outputSchema?.properties?.['exit_code']);
  t.deepEqual(run.inputSchema.required, ['command']);
});

test('run_command returns structured content and text; non-zero exit sets isError', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('out') }], exitCode: 2 };
  const client = await connect(runtime);
  const result = (await client.callTool({ name: 'run_command', arguments: { command: 'false' } })) as CallToolResult;
  t.true(result.isError);
  t.is(result.structuredContent?.['exit_code'], 2);
  t.is(result.structuredContent?.['stdout'], 'out');
  t.regex((result.content[0] as { text: string }).text, /exit code 2/);
});

test('service errors come back as isError with the error code', async (t) => {
  const client = await connect(new FakeRuntime());
  const result = (await client.callTool({ name: 'run_command', arguments: { command: 'x', profile: 'nope' } })) as CallToolResult;
  t.true(result.isError);
  t.regex((result.content[0] as { text: string }).text, /^profile_not_found: unknown profile "nope"/);
});

test('schema violations are rejected by the SDK with the field named', async (t) => {
  const client = await connect(new FakeRuntime());
  const result = (await client.callTool({ name: 'run_code', arguments: { language: 'cobol', code: 'x' } })) as CallToolResult;
  t.true(result.isError);
  t.regex((result.content[0] as { text: string }).text, /language/);
});
