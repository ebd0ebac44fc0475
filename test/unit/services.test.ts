import test from 'ava';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { testServices } from '../helpers/services.js';

test('disposing the services kills the runs in flight (they answer `killed`), then closes the stores', async (t) => {
  const runtime = new FakeRuntime();
  const services = testServices(runtime);
  runtime.next = { runMs: Infinity };
  const running = services.sandbox.runCommand({ command: 'sleep forever' });
  while (!runtime.calls.includes('start')) await new Promise((r) => setImmediate(r));
  await services[Symbol.asyncDispose]();
  const result = await running;
  t.is(result.status, 'killed');
  t.regex(result.error ?? '', /shutting down/);
  t.is(runtime.containers.size, 0, 'its container was removed before disposal finished');
  t.throws(() => services.store.get(result.run_id, 'local'), { message: /not open/ }, 'the run store closes last');
  await t.notThrowsAsync(services[Symbol.asyncDispose](), 'disposing twice is harmless');
});

test('after disposal new runs are refused as shutting_down', async (t) => {
  const services = testServices(new FakeRuntime());
  await services[Symbol.asyncDispose]();
  await t.throwsAsync(services.sandbox.runCommand({ command: 'true' }), { message: /shutting down/ });
});

test('the tools see the same service objects the server holds (one composition)', (t) => {
  const services = testServices(new FakeRuntime());
  t.is(services.tools.sandbox, services.sandbox);
  t.is(services.tools.processes, services.processes);
  t.is(services.tools.workspaces, services.workspaces);
  t.is(services.tools.store, services.store);
});
