import test from 'ava';
import { EngineStatus } from '../../server/sandbox/engine-status.js';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { WarmPool } from '../../server/sandbox/pool/warm-pool.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { silentLog, testProfile } from '../helpers/fixtures.js';

function setup() {
  const runtime = new FakeRuntime();
  const profiles = ProfileRegistry.fromProfiles([testProfile({ pool: { size: 2, maxIdleMs: 60_000 } })]);
  const instance = { name: 'unit', bootId: 'b' };
  const pool = new WarmPool({ runtime, log: silentLog, instance, profiles, retry: { firstMs: 5000, maxMs: 5000 } });
  const status = new EngineStatus({ runtime, profiles, instance, pool, runs: () => ({ active: 0, queued: 0, max_concurrent: 1 }) });
  return { runtime, pool, status };
}

test('readiness: a pool that cannot fill leaves the server ready, and says so', async (t) => {
  const { runtime, pool, status } = setup();
  runtime.next = { failAt: 'create' };
  pool.start();
  while (pool.state()['default']!.status !== 'retrying') await new Promise((r) => setTimeout(r, 2));
  const ready = await status.readiness();
  t.true(ready.ready);
  t.like(ready.pool['default'], { status: 'retrying', idle: 0, target_size: 2, consecutive_failures: 1, last_error: 'fake create failure' });
  t.truthy(ready.pool['default']!.next_retry_at);
  t.is(ready.notes.length, 1);
  t.regex(ready.notes[0]!, /warm pool "default" has 0 of 2 containers ready \(retrying at .* after 1 failure\(s\): fake create failure\); runs take the cold path/);
  const info = await status.systemInfo();
  t.deepEqual(info.pool_state, ready.pool);
  runtime.engineDown = true;
  const down = await status.readiness();
  t.false(down.ready);
  t.regex(down.ready ? '' : down.reason, /not reachable/);
  t.is(down.pool['default']!.target_size, 2, 'the pool state comes with a not-ready answer too');
  await pool.close();
});

test('readiness with a full pool has no notes', async (t) => {
  const { runtime, pool, status } = setup();
  runtime.next = { runMs: 5 };
  pool.start();
  while (pool.sizes()['default'] !== 2) await new Promise((r) => setTimeout(r, 2));
  const ready = await status.readiness();
  t.true(ready.ready);
  t.deepEqual(ready.notes, []);
  t.is(ready.pool['default']!.status, 'full');
  await pool.close();
});
