import { testServices } from '../helpers/services.js';
import test from 'ava';
import { FakeRuntime } from '../helpers/fake-runtime.js';


test('shutdown kills in-flight runs, waits for their removal, then refuses new runs', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { runMs: Infinity };
  const service = testServices(runtime).sandbox;
  const running = service.runCommand({ command: 'sleep 1000' });
  while (!runtime.calls.includes('start')) await new Promise((r) => setTimeout(r, 5));
  await service.shutdown();
  const result = await running;
  t.is(result.status, 'killed');
  t.regex(result.error ?? '', /shutting down/);
  t.is(runtime.containers.size, 0);
  await t.throwsAsync(service.runCommand({ command: 'echo' }), { message: /shutting down/ });
});

test('over the concurrency limit and the queue: busy, never an unbounded backlog', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { runMs: 200 };
  const service = testServices(runtime, { env: { CAPSULE_MAX_CONCURRENT: '1' } }).sandbox;
  // 1 running + 4 queued (queue = 4 x max) fit; the sixth is refused.
  const accepted = Array.from({ length: 5 }, () => service.runCommand({ command: 'x' }));
  const refused = service.runCommand({ command: 'x' });
  const err = await t.throwsAsync(refused);
  t.is((err as { code?: string }).code, 'busy');
  const results = await Promise.all(accepted);
  t.true(results.every((r) => r.status === 'exited'));
  t.is(runtime.containers.size, 0);
});
