import { testServices } from '../helpers/services.js';
import test from 'ava';
import { NotFoundError } from '../../server/errors.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';


test('a process runs in the background: read, wait, result recorded', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('a\n') }, { stream: 'stdout', data: Buffer.from('b\n') }], runMs: 50, exitCode: 0 };
  const { processes, store } = testServices(runtime).tools;
  const p = await processes.start({ command: 'x' }, 'alice');
  t.is(p.state, 'running');
  const done = await processes.wait('alice', p.processId, 5000);
  t.is(done.state, 'exited');
  const r = processes.read('alice', p.processId, 0, 100);
  t.is(r.chunks.map((c) => c.data).join(''), 'a\nb\n');
  t.is(store.get(p.runId, 'alice')?.status, 'exited');
  t.is(store.get(p.runId, 'alice')?.kind, 'process');
});

test('wait returns the running state at its timeout', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { runMs: Infinity };
  const { processes, sandbox } = testServices(runtime).tools;
  const p = await processes.start({ command: 'x' }, 'o');
  const started = Date.now();
  const w = await processes.wait('o', p.processId, 100);
  t.is(w.state, 'running');
  t.true(Date.now() - started >= 90);
  const killed = await processes.kill('o', p.processId);
  t.is(killed.state, 'killed');
  t.regex(killed.result?.error ?? '', /kill_process/);
  t.is(runtime.containers.size, 0);
  await sandbox.shutdown();
});

test('another owner cannot see or touch a process', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { runMs: Infinity };
  const { processes, sandbox } = testServices(runtime).tools;
  const p = await processes.start({ command: 'x' }, 'alice');
  t.throws(() => processes.read('bob', p.processId, 0, 10), { instanceOf: NotFoundError });
  await t.throwsAsync(processes.kill('bob', p.processId), { instanceOf: NotFoundError });
  t.deepEqual(processes.list('bob'), []);
  t.is(processes.list('alice').length, 1);
  await sandbox.shutdown();
});

test('stdin_open: writes reach the process, eof closes', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { runMs: Infinity };
  const { processes, sandbox } = testServices(runtime).tools;
  const p = await processes.start({ command: 'cat', stdin_open: true }, 'o');
  await processes.writeStdin('o', p.processId, 'hello\n', false);
  await processes.writeStdin('o', p.processId, 'bye\n', true);
  const container = [...runtime.containers.values()][0]!;
  t.is(Buffer.concat(container.stdinData).toString(), 'hello\nbye\n');
  await t.throwsAsync(processes.writeStdin('o', p.processId, 'more', false), { message: /stdin is not open/ });
  await sandbox.shutdown();
});

test('a process that cannot start is an error from start_process, not a zombie entry', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { failAt: 'create' };
  const { processes } = testServices(runtime).tools;
  await t.throwsAsync(processes.start({ command: 'x' }, 'o'), { message: /fake create failure/ });
  t.deepEqual(processes.list('o'), []);
  await t.throwsAsync(processes.start({ command: 'x', code: 'y', language: 'python' }, 'o'), { message: /either command, or language and code/ });
});
