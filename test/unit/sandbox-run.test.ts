import test from 'ava';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { prepareCodeRun, prepareCommandRun } from '../../server/sandbox/runs/run-request.js';
import { ContainerRun } from '../../server/sandbox/runs/container-run.js';
import { execute } from '../helpers/container-runs.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { silentLog, testConfig, testProfile } from '../helpers/fixtures.js';

const profiles = ProfileRegistry.fromProfiles([testProfile()]);
const limits = testConfig();

function setup(killGraceMs = 20) {
  const runtime = new FakeRuntime();
  return { runtime, ctx: { runtime, log: silentLog, instance: { name: 'unit', bootId: 'b1' }, killGraceMs } };
}

async function runOnce(ctx: ReturnType<typeof setup>['ctx'], job = prepareCommandRun({ command: 'x' }, profiles, limits), signal?: AbortSignal) {
  await using run = await ContainerRun.create(ctx, job, null);
  return await execute(ctx, run, signal ? { signal } : {});
}

test('success: output captured, labels set, container removed', async (t) => {
  const { runtime, ctx } = setup();
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('hi\n') }, { stream: 'stderr', data: Buffer.from('e') }], exitCode: 0 };
  const result = await runOnce(ctx);
  t.is(result.status, 'exited');
  t.is(result.exit_code, 0);
  t.is(result.stdout, 'hi\n');
  t.is(result.stderr, 'e');
  t.is(runtime.containers.size, 0);
  t.is(runtime.removed.length, 1);
  const spec = runtime.lastSpec();
  t.is(spec.labels['capsule.managed'], 'true');
  t.is(spec.labels['capsule.kind'], 'run');
  t.is(spec.labels['capsule.run_id'], result.run_id);
  t.is(spec.network, 'none');
  t.true(spec.readOnlyRootfs);
  t.deepEqual(spec.capDrop, ['ALL']);
  t.is(spec.user, '10001:10001');
});

test('non-zero exit is a result, not an error', async (t) => {
  const { runtime, ctx } = setup();
  runtime.next = { exitCode: 3 };
  const result = await runOnce(ctx);
  t.is(result.status, 'exited');
  t.is(result.exit_code, 3);
  t.is(result.signal, null);
});

for (const step of ['putArchive', 'attach', 'start'] as const) {
  test(`a ${step} failure removes the container and throws`, async (t) => {
    const { runtime, ctx } = setup();
    runtime.next = { failAt: step };
    const job = prepareCodeRun({ language: 'python', code: 'print(1)' }, profiles, limits);
    await t.throwsAsync(runOnce(ctx, job), { message: new RegExp(`fake ${step} failure`) });
    t.is(runtime.containers.size, 0);
    t.is(runtime.removed.length, 1);
  });
}

test('a create failure leaves nothing behind', async (t) => {
  const { runtime, ctx } = setup();
  runtime.next = { failAt: 'create' };
  await t.throwsAsync(runOnce(ctx));
  t.is(runtime.containers.size, 0);
  t.false(runtime.calls.includes('remove'));
});

test('timeout: SIGTERM, then SIGKILL for a process ignoring SIGTERM; partial output kept', async (t) => {
  const { runtime, ctx } = setup(30);
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('partial') }], runMs: Infinity, ignores: ['SIGTERM'] };
  const job = prepareCommandRun({ command: 'x', timeout_ms: 50 }, profiles, limits);
  const result = await runOnce(ctx, job);
  t.is(result.status, 'timed_out');
  t.is(result.stdout, 'partial');
  t.deepEqual(runtime.signals.map((s) => s.signal), ['SIGTERM', 'SIGKILL']);
  t.is(result.signal, 'SIGKILL');
  t.is(runtime.containers.size, 0);
});

test('client cancellation kills the run, reports killed, removes the container', async (t) => {
  const { runtime, ctx } = setup(0);
  runtime.next = { runMs: Infinity };
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('cancelled by the client')), 30);
  const result = await runOnce(ctx, undefined, controller.signal);
  t.is(result.status, 'killed');
  t.is(result.error, 'cancelled by the client');
  t.deepEqual(runtime.signals.map((s) => s.signal), ['SIGKILL']);
  t.is(runtime.containers.size, 0);
});

test('cancelled before start: throws cancelled and removes the container', async (t) => {
  const { runtime, ctx } = setup();
  const controller = new AbortController();
  controller.abort();
  await t.throwsAsync(runOnce(ctx, undefined, controller.signal), { message: /cancelled/ });
  t.false(runtime.calls.includes('start'));
  t.is(runtime.containers.size, 0);
});

test('a broken output stream after start is `failed` with the partial output', async (t) => {
  const { runtime, ctx } = setup();
  runtime.next = { output: [{ stream: 'stdout', data: Buffer.from('so far') }], failAt: 'output', runMs: Infinity };
  const result = await runOnce(ctx);
  t.is(result.status, 'failed');
  t.is(result.stdout, 'so far');
  t.regex(result.error ?? '', /connection reset/);
  t.is(runtime.containers.size, 0);
});

test('OOM is reported as oom_killed', async (t) => {
  const { runtime, ctx } = setup();
  runtime.next = { exitCode: 137, oomKilled: true };
  const result = await runOnce(ctx);
  t.is(result.status, 'oom_killed');
  t.is(result.exit_code, 137);
  t.is(result.signal, 'SIGKILL');
});

test('stdin is written and closed; code is copied in before start', async (t) => {
  const { runtime, ctx } = setup();
  const job = prepareCodeRun({ language: 'python', code: 'print(input())', stdin: 'abc\n' }, profiles, limits);
  await using run = await ContainerRun.create(ctx, job, null);
  const container = runtime.containers.get(run.id)!;
  await execute(ctx, run);
  t.is(Buffer.concat(container.stdinData).toString(), 'abc\n');
  t.is(container.archives[0]!.path, '/capsule');
  t.true(container.archives[0]!.bytes >= 1024);
  t.deepEqual(runtime.calls.slice(0, 4), ['create', 'putArchive', 'attach', 'start']);
  t.true(container.spec.openStdin);
  t.deepEqual(container.spec.volumes, [{ target: '/capsule', readOnly: false }]);
});
