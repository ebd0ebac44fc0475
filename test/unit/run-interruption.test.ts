import { testServices } from '../helpers/services.js';
import test from 'ava';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { prepareCommandRun } from '../../server/sandbox/runs/run-request.js';
import { RuntimeFailureError } from '../../server/errors.js';
import { describeOutsideStop, ENGINE_STOPPED, STOPPED_OUTSIDE } from '../../server/sandbox/runs/run-interruption.js';
import { ContainerRun } from '../../server/sandbox/runs/container-run.js';
import { execute } from '../helpers/container-runs.js';
import { WarmPool } from '../../server/sandbox/pool/warm-pool.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { silentLog, testConfig, testProfile } from '../helpers/fixtures.js';

// Who ended a run decides its status: a signal Capsule sent keeps its meaning (timed_out, killed, a
// forwarded signal's exit), one it did not send is `failed`, naming who stopped the container.

const profiles = ProfileRegistry.fromProfiles([testProfile()]);
const partial = { output: [{ stream: 'stdout' as const, data: Buffer.from('started\n') }], runMs: Infinity };

function setup() {
  const runtime = new FakeRuntime();
  return { runtime, ctx: { runtime, log: silentLog, instance: { name: 'unit', bootId: 'b1' }, killGraceMs: 20 } };
}

/** Start a run that prints "started" and runs until stopped; `during` acts once the output is in. */
async function runUntilStopped(during: (runtime: FakeRuntime, id: string) => void, timeout_ms?: number) {
  const { runtime, ctx } = setup();
  runtime.next = partial;
  await using run = await ContainerRun.create(ctx, prepareCommandRun({ command: 'x', ...(timeout_ms ? { timeout_ms } : {}) }, profiles, testConfig()), null);
  const result = await execute(ctx, run, { onOutput: () => setImmediate(() => during(runtime, run.id)) });
  return { result, runtime };
}

test('Capsule\'s own SIGTERM at a timeout is still timed_out', async (t) => {
  const { result, runtime } = await runUntilStopped(() => undefined, 50);
  t.is(result.status, 'timed_out');
  t.is(result.error, undefined);
  t.true(runtime.signals.some((s) => s.signal === 'SIGTERM'), 'the launcher got a SIGTERM (Capsule\'s)');
});

test('a SIGTERM from outside while the engine is up is failed: stopped from outside Capsule', async (t) => {
  const { result } = await runUntilStopped((runtime, id) => runtime.stopFromOutside(id));
  t.is(result.status, 'failed');
  t.true(result.error?.startsWith(STOPPED_OUTSIDE), result.error);
  t.regex(result.error ?? '', /SIGTERM/);
  t.is(result.stdout, 'started\n', 'the partial output is kept');
  t.is(result.exit_code, 143);
});

test('the engine shutting down mid-run is failed: the engine stopped the container; partial output kept', async (t) => {
  const { result, runtime } = await runUntilStopped((rt) => rt.shutdownEngine());
  t.is(result.status, 'failed');
  t.true(result.error?.startsWith(ENGINE_STOPPED), result.error);
  t.is(result.stdout, 'started\n');
  t.is(runtime.containers.size, 1, 'its removal failed with the engine down: the reaper takes it later');
});

test('an attach stream that breaks with the engine gone (no exit frame) is failed, naming the engine', async (t) => {
  const { runtime, ctx } = setup();
  runtime.next = { ...partial, failAt: 'output' };
  runtime.engineDown = false;
  await using run = await ContainerRun.create(ctx, prepareCommandRun({ command: 'x' }, profiles, testConfig()), null);
  const result = await execute(ctx, run, { onOutput: () => void (runtime.engineDown = true) });
  t.is(result.status, 'failed');
  t.regex(result.error ?? '', /Docker engine stopped or became unreachable mid-run.*fake connection reset/);
  t.is(result.stdout, 'started\n');
  runtime.engineDown = false;
});

test('a broken stream with the engine still up says the connection broke', async (t) => {
  const { runtime, ctx } = setup();
  runtime.next = { ...partial, failAt: 'output' };
  await using run = await ContainerRun.create(ctx, prepareCommandRun({ command: 'x' }, profiles, testConfig()), null);
  const result = await execute(ctx, run);
  t.is(result.status, 'failed');
  t.regex(result.error ?? '', /connection to the container broke mid-run: fake connection reset/);
});

test('kill_process is still killed; a signal it forwards keeps the program\'s own exit', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = { runMs: Infinity };
  const { processes, sandbox } = testServices(runtime).tools;
  const p = await processes.start({ command: 'x' }, 'o');
  const killed = await processes.kill('o', p.processId, 'SIGTERM');
  t.is(killed.state, 'killed');
  t.regex(killed.result?.error ?? '', /kill_process/);
  const q = await processes.start({ command: 'x' }, 'o');
  await processes.kill('o', q.processId, 'SIGINT');
  const interrupted = await processes.wait('o', q.processId, 5000);
  t.is(interrupted.state, 'exited', 'Capsule sent that SIGINT: not an outside stop');
  t.is(interrupted.result?.error, undefined);
  await sandbox.shutdown();
});

test('a background process the engine stopped is failed', async (t) => {
  const runtime = new FakeRuntime();
  runtime.next = partial;
  const { processes, store, sandbox } = testServices(runtime).tools;
  const p = await processes.start({ command: 'x' }, 'o');
  runtime.shutdownEngine();
  const done = await processes.wait('o', p.processId, 5000);
  t.is(done.state, 'failed');
  t.true(done.result?.error?.startsWith(ENGINE_STOPPED), done.result?.error);
  t.is(store.get(p.runId, 'o')?.status, 'failed');
  runtime.engineDown = false;
  await sandbox.shutdown();
});

test('a warm container that ended before it got its job is failed, not a normal exit', async (t) => {
  const { runtime, ctx } = setup();
  const pooled = testProfile({ pool: { size: 1, maxIdleMs: 60_000 } });
  const pool = new WarmPool({ runtime, log: silentLog, instance: ctx.instance, profiles: ProfileRegistry.fromProfiles([pooled]) });
  runtime.next = { runMs: 5 };
  pool.start();
  while ((pool.sizes()['default'] ?? 0) < 1) await new Promise((r) => setTimeout(r, 2));
  const warm = pool.take(pooled)!;
  runtime.stopFromOutside(warm.id);
  await using run = ContainerRun.fromWarm(ctx, { ...prepareCommandRun({ command: 'x' }, profiles, testConfig()), runId: warm.runId }, warm);
  const result = await execute(ctx, run);
  t.is(result.status, 'failed');
  t.regex(result.error ?? '', /warm container ended before it took the job/);
  await pool.close();
});

test('through a socket proxy, a gone engine (the proxy answers 503) counts as the engine stopping', async (t) => {
  const runtime = new FakeRuntime();
  runtime.info = async () => {
    throw new RuntimeFailureError('engine error 503: no server is available', { details: { status: 503 } });
  };
  t.true((await describeOutsideStop(runtime, 'SIGTERM')).startsWith(ENGINE_STOPPED));
  runtime.info = async () => {
    throw new RuntimeFailureError('engine error 500: something else', { details: { status: 500 } });
  };
  t.true((await describeOutsideStop(runtime, 'SIGTERM')).startsWith(STOPPED_OUTSIDE), 'an engine that answers is there');
});
