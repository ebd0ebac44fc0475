import { testServices } from '../helpers/services.js';
import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { createMcpServer } from '../../server/mcp/server.js';
import { structuredResult } from '../../server/mcp/tool-context.js';
import { describeProfile } from '../../server/sandbox/profiles/profiles.js';
import type { RunResult } from '../../server/sandbox/runs/run-result.js';
import { runResultObject } from '../../server/schemas/run-outputs.js';
import { listProfilesOutput } from '../../server/schemas/system-outputs.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { testProfile } from '../helpers/fixtures.js';
import { schemaViolations } from '../helpers/json-schema.js';

async function listedTools(runtime = new FakeRuntime()) {
  const server = createMcpServer(testServices(runtime).tools);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'unit', version: '1' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  const { tools } = await client.listTools();
  return { client, byName: new Map<string, Tool>(tools.map((tool) => [tool.name, tool])) };
}

function outputSchemaOf(byName: Map<string, Tool>, name: string): Record<string, unknown> {
  const schema = byName.get(name)?.outputSchema;
  if (!schema) throw new Error(`${name} lists no outputSchema`);
  return schema;
}

test('every listed outputSchema compiles under a strict validator and closes every object it declares', async (t) => {
  const { byName } = await listedTools();
  const open: string[] = [];
  const walk = (tool: string, node: unknown, at: string): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    // An object with named properties must refuse others; records (additionalProperties: schema) are maps.
    if (n['type'] === 'object' && n['properties'] && n['additionalProperties'] !== false) open.push(`${tool} ${at || '/'}`);
    for (const [k, v] of Object.entries(n)) walk(tool, v, `${at}/${k}`);
  };
  for (const [name, tool] of byName) {
    t.notThrows(() => schemaViolations(outputSchemaOf(byName, name), {}), name);
    walk(name, tool.outputSchema, '');
  }
  t.deepEqual(open, []);
});

test('a run result validates; with an extra key, a nested extra key or a missing key it does not', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('out') }], exitCode: 0 };
  const { client, byName } = await listedTools(runtime);
  const schema = outputSchemaOf(byName, 'run_command');
  const r = (await client.callTool({ name: 'run_command', arguments: { command: 'true' } })) as CallToolResult;
  const result = r.structuredContent as RunResult;
  t.is(result.stdout, 'out');
  t.is(schemaViolations(schema, result), null);
  t.regex(schemaViolations(schema, { ...result, enabled: true }) ?? '', /must NOT have additional properties \(enabled\)/);
  t.regex(schemaViolations(schema, { ...result, stats: { ...result.stats, extra: 1 } }) ?? '', /\/stats must NOT have additional properties \(extra\)/);
  const { stdout: _stdout, ...missing } = result;
  t.regex(schemaViolations(schema, missing) ?? '', /must have required property 'stdout'/);
  t.regex(schemaViolations(schema, { ...result, status: 'running' }) ?? '', /\/status must be equal to one of the allowed values/);
});

test('list_profiles returns every key its schema declares and no other (the drift a validating client refused)', async (t) => {
  const { client, byName } = await listedTools();
  const r = (await client.callTool({ name: 'list_profiles', arguments: {} })) as CallToolResult;
  t.is(schemaViolations(outputSchemaOf(byName, 'list_profiles'), r.structuredContent), null);
  const first = (r.structuredContent as { profiles: Array<Record<string, unknown>> }).profiles[0]!;
  t.like(first, { name: 'default', enabled: true, seccomp: 'docker default' });
  t.is(typeof first['process_timeout_default_ms'], 'number');
});

test('structuredResult refuses, at compile time, a value with a key its schema lacks or without one it requires', (t) => {
  const run: RunResult = runResultObject.parse({
    run_id: 'run_1', status: 'exited', exit_code: 0, signal: null, stdout: '', stderr: '', stdout_bytes: 0, stderr_bytes: 0, truncated: false,
    duration_ms: 1, profile: 'default', image: 'i', runtime: 'runc', stats: { cpu_ms: 0, memory_peak_bytes: 0, pids_peak: 0, blkio_read_bytes: 0, blkio_write_bytes: 0, samples: [], final: true },
  });
  t.is(structuredResult(runResultObject, run).structuredContent, run);
  // The lines below are checked by `tsc -p .` (test/ is in the project): each must be a type error.
  const extra = { ...run, enabled: true };
  // @ts-expect-error an extra top-level key
  structuredResult(runResultObject, extra);
  // @ts-expect-error an extra key in a nested object
  structuredResult(runResultObject, { ...run, stats: { ...run.stats, extra: 1 } });
  // @ts-expect-error an extra key in an array element
  structuredResult(runResultObject, { ...run, files: [{ path: 'a', size: 1, mime_type: 'text/plain', extra: 1 }] });
  const { stdout: _stdout, ...missing } = run;
  // @ts-expect-error a missing required key
  structuredResult(runResultObject, missing);
  // @ts-expect-error a profile with a key list_profiles does not declare
  structuredResult(listProfilesOutput, { profiles: [{ ...describeProfile(testProfile()), sandbox: 'x' }] });
  t.pass();
});
