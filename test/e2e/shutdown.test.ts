import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { requireEngine, runtime } from '../helpers/engine.js';
import { startServer } from '../helpers/server-process.js';

test.before(requireEngine);

test('SIGTERM mid-run kills the run, removes its container and exits 0', async (t) => {
  const server = await startServer();
  const client = new Client({ name: 'e2e-shutdown', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(server.url));
  await client.listTools(); // as hosts do: the SDK then checks every structured result against its outputSchema
  const info = (await client.callTool({ name: 'system_info', arguments: {} })).structuredContent as { instance_id: string };
  const call = client.callTool({ name: 'run_command', arguments: { command: 'sleep 60' } }).catch((err: unknown) => err);

  // Wait until the run is surely running (its container, and the warm pool's, exist).
  const [name, boot] = info.instance_id.split('/');
  const labels = { 'capsule.instance': name!, 'capsule.boot': boot! };
  for (let i = 0; i < 200 && (await runtime.list(labels)).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 1000));
  t.true((await runtime.list(labels)).length >= 1);

  const started = Date.now();
  const code = await server.stop('SIGTERM');
  t.is(code, 0, server.stderr());
  t.true(Date.now() - started < 10_000);
  t.deepEqual(await runtime.list(labels), []);
  const answer = (await call) as { structuredContent?: { status: string; error?: string } };
  t.is(answer.structuredContent?.status, 'killed');
  t.regex(answer.structuredContent?.error ?? '', /shutting down/);
  await client.close().catch(() => undefined);
});
