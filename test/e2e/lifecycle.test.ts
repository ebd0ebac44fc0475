import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { requireEngine, runtime } from '../helpers/engine.js';
import { startServer, startServerExpectingFailure } from '../helpers/server-process.js';

test.before(requireEngine);

test('binding 0.0.0.0 without tokens refuses to start, with a clear message', async (t) => {
  const { code, stderr } = await startServerExpectingFailure({ CAPSULE_HOST: '0.0.0.0' });
  t.is(code, 1);
  t.regex(stderr, /refusing to serve on 0\.0\.0\.0 without authentication: set CAPSULE_TOKENS/);
});

test('a bad profile file stops start-up naming the file and key', async (t) => {
  const { mkdtempSync, writeFileSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'capsule-bad-profiles-'));
  const text = readFileSync(join(process.cwd(), 'sandbox-profiles', 'default.yaml'), 'utf8').replace('limits:\n', 'limits:\n  gpus: 4\n');
  writeFileSync(join(dir, 'default.yaml'), text);
  const { code, stderr } = await startServerExpectingFailure({ CAPSULE_PROFILES_DIR: dir });
  t.is(code, 1);
  t.regex(stderr, /default\.yaml: unknown key "limits\.gpus"/);
});

test('SIGKILL mid-run, then a restart: the orphan is reaped within 10 s', async (t) => {
  const first = await startServer();
  const client = new Client({ name: 'crash', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(first.url));
  await client.listTools(); // as hosts do: the SDK then checks every structured result against its outputSchema
  const info = (await client.callTool({ name: 'system_info', arguments: {} })).structuredContent as { instance_id: string };
  void client.callTool({ name: 'run_command', arguments: { command: 'sleep 120' } }).catch(() => undefined);
  // Everything the first start made (its run and its warm pool) carries its boot id.
  const labels = { 'capsule.managed': 'true', 'capsule.instance': first.instance, 'capsule.boot': info.instance_id.split('/')[1]! };
  for (let i = 0; i < 200 && (await runtime.list(labels)).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  // The pool replaces the container the run took at most 1 s after the take: count once that refill
  // is done, i.e. once the count holds still for a second.
  await new Promise((r) => setTimeout(r, 1500));
  let before = (await runtime.list(labels)).length;
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = (await runtime.list(labels)).length;
    if (now === before) break;
    before = now;
  }
  t.true(before >= 1, 'the run container exists');

  await first.stop('SIGKILL');
  await client.close().catch(() => undefined);
  t.is((await runtime.list(labels)).length, before, 'SIGKILL left the containers behind');

  const restarted = Date.now();
  const second = await startServer({ CAPSULE_INSTANCE: first.instance });
  try {
    while ((await runtime.list(labels)).length > 0 && Date.now() - restarted < 10_000) await new Promise((r) => setTimeout(r, 100));
    t.deepEqual(await runtime.list(labels), []);
    t.log(`orphan gone ${Date.now() - restarted} ms after the restart`);
  } finally {
    await second.stop();
  }
});
