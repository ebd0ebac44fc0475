import test from 'ava';
import pino from 'pino';
import { Writable } from 'node:stream';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { WarmPool } from '../../server/sandbox/pool/warm-pool.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { testConfig, testProfile } from '../helpers/fixtures.js';
import { SandboxService } from '../../server/sandbox/sandbox-service.js';

const profile = testProfile({ pool: { size: 2, maxIdleMs: 60_000 } });

/** A pool on the fake engine, with the delays of every failed refill captured from its log. */
function setup(retry = { firstMs: 10, maxMs: 40 }) {
  const runtime = new FakeRuntime();
  // Warm containers live until a job arrives (then run briefly) or they are stopped.
  runtime.next = { runMs: 5 };
  const delays: number[] = [];
  const sink = new Writable({
    write(line: Buffer, _enc, done) {
      const entry = JSON.parse(line.toString()) as { msg: string; retry_in_ms?: number };
      if (entry.msg === 'warm pool refill failed') delays.push(entry.retry_in_ms!);
      done();
    },
  });
  const registry = ProfileRegistry.fromProfiles([profile]);
  const pool = new WarmPool({ runtime, log: pino({ level: 'warn' }, sink), instance: { name: 'unit', bootId: 'b' }, profiles: registry, retry });
  return { runtime, pool, delays, registry };
}

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('a refill that fails keeps retrying with capped doubling backoff, and heals when the engine is back', async (t) => {
  const { runtime, pool, delays } = setup();
  runtime.engineDown = true;
  pool.start();
  await until('five failed attempts', () => delays.length >= 5);
  t.deepEqual(delays.slice(0, 5), [10, 20, 40, 40, 40], 'doubling from 10 ms, capped at 40 ms');
  const down = pool.state()['default']!;
  t.is(down.idle, 0);
  t.true(down.filling);
  t.is(down.status, 'retrying');
  t.true(down.consecutive_failures >= 5);
  t.regex(down.last_error ?? '', /not reachable/);
  t.truthy(down.next_retry_at);
  runtime.engineDown = false;
  await until('the pool is full again', () => pool.state()['default']!.idle === 2);
  const healed = pool.state()['default']!;
  t.like(healed, { status: 'full', filling: false, consecutive_failures: 0, next_retry_at: null, target_size: 2 });
  t.regex(healed.last_error ?? '', /not reachable/, 'the last error stays visible after recovery');
  // Reset on success: the next outage starts again at the first delay.
  runtime.engineDown = true;
  delays.length = 0;
  t.truthy(pool.take(profile));
  await until('a failed refill', () => delays.length >= 1);
  t.is(delays[0], 10);
  runtime.engineDown = false;
  await pool.close();
});

test('an idle container that dies is dropped, removed and replaced; a dead one is never handed out', async (t) => {
  const { runtime, pool } = setup();
  pool.start();
  await until('full', () => pool.sizes()['default'] === 2);
  const [first] = [...runtime.containers.keys()];
  runtime.stopFromOutside(first!);
  await until('replaced', () => pool.state()['default']!.replaced_dead === 1 && pool.sizes()['default'] === 2);
  t.true(runtime.removed.includes(first!), 'the dead container was removed');
  t.false(runtime.containers.has(first!));
  t.regex(pool.state()['default']!.last_error ?? '', /ended/);
  const taken = [pool.take(profile)!.id, pool.take(profile)!.id];
  t.false(taken.includes(first!));
  await pool.close();
});

test('an engine shutdown kills every idle container: none is handed out, the reaper may take them, the pool refills once the engine is back', async (t) => {
  const { runtime, pool } = setup();
  pool.start();
  await until('full', () => pool.sizes()['default'] === 2);
  const before = [...runtime.containers.values()].map((c) => c.spec.labels);
  runtime.shutdownEngine();
  await until('both dropped', () => pool.state()['default']!.replaced_dead === 2);
  t.is(pool.take(profile), null, 'no dead container is handed out');
  t.true(before.every((labels) => !pool.ownsContainer(labels)), 'the dead ones are left to the reaper (their removal failed)');
  await until('retrying', () => pool.state()['default']!.status === 'retrying');
  runtime.engineDown = false;
  await until('full again', () => pool.sizes()['default'] === 2);
  t.is(pool.state()['default']!.status, 'full');
  await pool.close();
});

test('a cold run that starts ends a long backoff at once (retryNow)', async (t) => {
  const { runtime, pool, registry } = setup({ firstMs: 60_000, maxMs: 60_000 });
  const sandbox = new SandboxService({ runtime, profiles: registry, config: testConfig(), log: pino({ level: 'silent' }), instance: { name: 'unit', bootId: 'b' }, pool });
  runtime.engineDown = true;
  pool.start();
  await until('retrying', () => pool.state()['default']!.status === 'retrying');
  runtime.engineDown = false;
  const result = await sandbox.runCommand({ command: 'echo' });
  t.is(result.status, 'exited');
  await until('refilled long before the 60 s backoff', () => pool.sizes()['default'] === 2, 2000);
  t.is(pool.state()['default']!.consecutive_failures, 0);
  await sandbox.shutdown();
});

test('close() during a backoff returns promptly and removes what is idle', async (t) => {
  const { runtime, pool } = setup({ firstMs: 60_000, maxMs: 60_000 });
  runtime.engineDown = true;
  pool.start();
  await until('retrying', () => pool.state()['default']!.status === 'retrying');
  runtime.engineDown = false;
  const closing = await Promise.race([pool.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still waiting out the backoff'), 5000))]);
  t.is(closing, 'closed');
  t.is(pool.state()['default']!.status, 'closed');
  t.is(runtime.containers.size, 0);
});

test('a refill waits for the run that took a container while another is idle; with none idle it starts at once', async (t) => {
  const { runtime, pool } = setup();
  pool.start();
  await until('full', () => pool.sizes()['default'] === 2);
  const creates = () => runtime.calls.filter((c) => c === 'create').length;
  const before = creates();
  const first = pool.take(profile)!;
  await new Promise((r) => setTimeout(r, 100));
  t.is(creates(), before, 'no replacement is created while the taking run goes on and one container is idle');
  pool.release(first);
  await until('refilled after the run ended', () => pool.sizes()['default'] === 2, 1000);
  pool.take(profile);
  const second = pool.take(profile);
  t.truthy(second);
  await until('an empty pool refills without waiting for either run', () => creates() > before + 1, 500);
  await pool.close();
});
