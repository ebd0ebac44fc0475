import { runWatched } from '../helpers/services.js';
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../server/config.js';
import { ProfileRegistry, type Profile } from '../../server/sandbox/profiles/profiles.js';
import { SandboxService } from '../../server/sandbox/sandbox-service.js';
import { WarmPool } from '../../server/sandbox/pool/warm-pool.js';
import { requireEngine, runtime } from '../helpers/engine.js';
import { runtimeCases } from '../helpers/runtimes.js';
import { silentLog } from '../helpers/fixtures.js';

// The pooled path must keep every guarantee of the cold path. Each test gets its own pool and instance name.
test.before(requireEngine);

function pooled(profiles: Profile[]) {
  const instance = { name: `pool-${randomBytes(3).toString('hex')}`, bootId: 'itest' };
  const registry = ProfileRegistry.fromProfiles(profiles);
  const pool = new WarmPool({ runtime, log: silentLog, instance, profiles: registry });
  const sandbox = new SandboxService({ runtime, profiles: registry, config: loadConfig({}), log: silentLog, instance, pool });
  pool.start();
  const waitFull = async (name = 'default', size = 2) => {
    for (let i = 0; i < 200 && (pool.sizes()[name] ?? 0) < size; i++) await new Promise((r) => setTimeout(r, 50));
  };
  return { sandbox, pool, instance, waitFull };
}

for (const rc of runtimeCases()) {
  test.before(rc.ready);
  const warmDefault = () => pooled([rc.profile({ pool: { size: 2, maxIdleMs: 300_000 } })]);

  test(`[${rc.label}] the run-tool guarantees hold on warm containers`, async (t) => {
    const { sandbox, pool, instance, waitFull } = warmDefault();
    try {
      await waitFull();
      const basic = await sandbox.runCommand({ command: 'echo out; echo err >&2; id -u; pwd; exit 7' });
      t.like(basic, { status: 'exited', exit_code: 7, stdout: 'out\n10001\n/workspace\n', stderr: 'err\n' });
      t.true(basic.stats.final && (basic.stats.memory_peak_bytes ?? 0) > 0);
    t.is(basic.runtime, rc.runtime);
      await waitFull();
      const io = await sandbox.runCommand({ command: 'echo "$GREETING"; pwd; wc -l', env: { GREETING: 'hello' }, workdir: '/tmp', stdin: 'a\nb\n' });
      t.is(io.stdout, 'hello\n/tmp\n2\n');
      await waitFull();
      const code = await sandbox.runCode({ language: 'typescript', code: 'const n: number = 6 * 7; console.log(n, process.env.PATH?.includes("/opt/node/bin"))' });
      t.is(code.stdout, '42 true\n', code.stderr);
      await waitFull();
      const timeout = await sandbox.runCommand({ command: 'echo partial; sleep 30', timeout_ms: 2000 });
      t.like(timeout, { status: 'timed_out', stdout: 'partial\n' });
      await waitFull();
      const flood = await sandbox.runCommand({ command: 'head -c 3000000 /dev/zero | tr "\\0" a' });
      t.true(flood.truncated);
      t.is(flood.stdout_bytes, 3_000_000);
      await waitFull();
      const controller = new AbortController();
      const killed = await runWatched(sandbox, { command: 'echo started; sleep 30' }, () => controller.abort(), { signal: controller.signal });
      t.is(killed.status, 'killed');
      t.true(pool.handedOut.size >= 6, 'these runs took warm containers');
      const ids = [...pool.handedOut];
      t.is(new Set(ids).size, ids.length, 'a warm container is never used twice');
    } finally {
      await sandbox.shutdown();
    }
    t.deepEqual(await runtime.list({ 'capsule.instance': instance.name }), [], 'shutdown removes the pool and every run container');
  });

  test(`[${rc.label}] labels on a warm run match its run id; OOM is detected on the warm path`, async (t) => {
    const { sandbox, pool, instance, waitFull } = pooled([rc.profile({ memoryBytes: 64 << 20, pool: { size: 1, maxIdleMs: 300_000 } })]);
    try {
      await waitFull('default', 1);
      const oom = await sandbox.runCode({ language: 'python', code: 'x = []\nwhile True: x.append(bytearray(8 << 20))' });
      t.is(oom.status, 'oom_killed');
      t.is(pool.handedOut.size, 1);
      await waitFull('default', 1);
      let labels: Record<string, string> | undefined;
      const running = sandbox.runCommand({ command: 'sleep 1' });
      for (let i = 0; i < 40 && !labels; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const [c] = (await runtime.list({ 'capsule.instance': instance.name })).filter((x) => pool.handedOut.has(x.id) && x.id !== [...pool.handedOut][0]);
        labels = c?.labels;
      }
      const r = await running;
      t.is(labels?.['capsule.run_id'], r.run_id);
      t.is(labels?.['capsule.managed'], 'true');
    } finally {
      await sandbox.shutdown();
    }
  });

  test(`[${rc.label}] refill after a burst; idle containers past max_idle_s are replaced`, async (t) => {
    const { sandbox, pool, instance, waitFull } = pooled([rc.profile({ pool: { size: 2, maxIdleMs: 1000 } })]);
    const warmIds = async () => (await runtime.list({ 'capsule.kind': 'pool', 'capsule.instance': instance.name })).map((c) => c.id).filter((id) => !pool.handedOut.has(id));
    try {
      await waitFull();
      const results = await Promise.all(Array.from({ length: 5 }, (_, i) => sandbox.runCommand({ command: `echo ${i}` })));
      t.deepEqual(results.map((r) => r.stdout), ['0\n', '1\n', '2\n', '3\n', '4\n'], 'an empty pool falls back to the cold path, never an error');
      await waitFull();
      t.is(pool.sizes()['default'], 2, 'refilled after the burst');
      const before = await warmIds();
      t.is(before.length, 2);
      await new Promise((r) => setTimeout(r, 1200));
      t.is(await pool.sweepIdle(), 2);
      await waitFull();
      const after = await warmIds();
      t.is(after.length, 2);
      t.deepEqual(after.filter((id) => before.includes(id)), [], 'the stale warm containers were replaced');
    } finally {
      await sandbox.shutdown();
    }
  });
}
