import test from 'ava';
import { httpClient } from '../helpers/mcp-client.js';
import { type PrivateEngine, startPrivateEngine } from '../helpers/private-engine.js';
import { type RunningServer, startServer } from '../helpers/server-process.js';
import type { PoolProfileState } from '../../server/schemas/pool-state.js';

// A user's bug: after an engine outage every run took the cold path until the server restarted
// (0 of 6 warm, 25 s after the engine came back). This stops and starts a real (private) engine.

let engine: PrivateEngine | undefined;
let server: RunningServer | undefined;

test.before(async (t) => {
  engine = await startPrivateEngine('e2e-pool-heal');
  t.log(`private engine: started in ${engine.timings.startMs} ms, image load ${engine.timings.loadMs} ms (0 = already loaded)`);
  // The reaper every second, so the dead warm containers of the outage are seen removed within the test.
  server = await startServer({ DOCKER_HOST: engine.host, CAPSULE_REAP_INTERVAL_MS: '1000' });
});

test.after.always(async () => {
  await server?.stop();
  await engine?.stop();
});

async function eventually<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await probe().catch(() => undefined as T);
    if (last !== undefined && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not within ${ms} ms: ${what}; last: ${JSON.stringify(last)}`);
}

test('the pool refills after the engine comes back and runs are warm again; /readyz shows the pool', async (t) => {
  const { client, call } = await httpClient(server!.url);
  t.true((await client.listTools()).tools.some((tool) => tool.name === 'system_info'));
  const pool = async () => (await call<{ pool_state: Record<string, PoolProfileState> }>('system_info')).s.pool_state['default']!;
  /** A run is warm when it took a pool container: the pool's handed_out count moves by one. */
  const warmRun = async () => {
    await eventually('a warm container is ready', pool, (p) => p.idle >= 1, 30_000);
    const before = (await pool()).handed_out;
    const run = await call<{ status: string; stdout: string }>('run_command', { command: 'echo hi' });
    t.like(run.s, { status: 'exited', stdout: 'hi\n' });
    return (await pool()).handed_out - before === 1;
  };

  await eventually('the pool is full', pool, (p) => p.idle === 2, 30_000);
  t.true(await warmRun(), 'warm before the outage');

  await engine!.stop();
  for (let i = 0; i < 3; i++) {
    const down = await call('run_command', { command: 'echo down' });
    t.true(down.result.isError);
    t.regex(down.text, /^engine_unavailable: Docker engine not reachable at unix:\/\/\/var\/run\/docker-e2e-pool-heal\.sock/);
  }
  const unready = await fetch(`${server!.base}/readyz`);
  t.is(unready.status, 503);
  const unreadyBody = (await unready.json()) as { status: string; pool: Record<string, PoolProfileState> };
  t.is(unreadyBody.status, 'not_ready');
  t.is(unreadyBody.pool['default']!.idle, 0, 'the idle containers died with the engine and were dropped');
  t.true(unreadyBody.pool['default']!.replaced_dead >= 1);

  const back = Date.now();
  await engine!.start();
  // Right after the start the pool is usually still waiting out its backoff: ready, but it says so.
  const early = await fetch(`${server!.base}/readyz`);
  t.is(early.status, 200, 'the pool is an optimisation: the server is ready once the engine is');
  const earlyBody = (await early.json()) as { status: string; pool: Record<string, PoolProfileState>; notes: string[] };
  t.is(earlyBody.status, 'ready');
  if (earlyBody.pool['default']!.idle < 2) t.regex(earlyBody.notes.join('\n'), /warm pool "default" has \d of 2 containers ready/);
  t.log(`readyz right after the engine start: pool ${earlyBody.pool['default']!.status}, ${earlyBody.pool['default']!.idle} idle`);

  // Bounded: the backoff is capped at 30 s, and an outage this short keeps it at a few seconds.
  const refilled = await eventually('the pool refills by itself', pool, (p) => p.idle === 2, 45_000);
  t.log(`pool full again ${Date.now() - back} ms after the engine came back`);
  t.like(refilled, { status: 'full', consecutive_failures: 0, next_retry_at: null });
  t.truthy(refilled.last_error, 'the outage stays visible to an operator');

  let warm = 0;
  for (let i = 0; i < 6; i++) if (await warmRun()) warm++;
  t.is(warm, 6, `${warm} of 6 runs were warm after the outage`);

  const ready = (await (await fetch(`${server!.base}/readyz`)).json()) as { status: string; pool: Record<string, PoolProfileState>; notes: string[] };
  t.is(ready.status, 'ready');
  t.is(ready.pool['default']!.target_size, 2);

  // The containers that died with the engine are reaped: what is left is the idle warm ones (two of the
  // default profile; the gvisor profile's one too when the engine reads a daemon.json that registers runsc).
  const left = await eventually(
    'only the idle pool is left',
    () => engine!.runtime.list({ 'capsule.instance': server!.instance }),
    (cs) => cs.every((c) => c.labels['capsule.kind'] === 'pool' && c.state === 'running') && cs.filter((c) => c.labels['capsule.profile'] === 'default').length === 2,
    15_000,
  );
  t.is(left.filter((c) => c.labels['capsule.profile'] === 'default').length, 2);
  await client.close();
});
