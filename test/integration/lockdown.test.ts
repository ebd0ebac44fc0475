import test from 'ava';
import { realServices, requireEngine, runtime } from '../helpers/engine.js';

test.before(requireEngine);
const service = realServices().sandbox;

test('the root filesystem is read-only; /tmp and /workspace are writable', async (t) => {
  const r = await service.runCommand({
    command: 'touch /usr/x 2>&1 || echo ro-usr; touch /x 2>&1 || echo ro-root; touch /tmp/a /workspace/b && echo rw-ok',
  });
  t.regex(r.stdout, /ro-usr/);
  t.regex(r.stdout, /ro-root/);
  t.regex(r.stdout, /rw-ok/);
});

test('no network: only the loopback interface exists', async (t) => {
  const r = await service.runCommand({ command: 'ls /sys/class/net' });
  t.is(r.stdout.trim(), 'lo');
});

test('no capabilities and no_new_privs', async (t) => {
  const r = await service.runCommand({ command: 'grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status' });
  t.regex(r.stdout, /CapEff:\s+0000000000000000/);
  t.regex(r.stdout, /CapBnd:\s+0000000000000000/);
  t.regex(r.stdout, /NoNewPrivs:\s+1/);
});

test('the code directory is readable but not writable by the sandbox user', async (t) => {
  const r = await service.runCode({ language: 'bash', code: 'ls -l /capsule; echo x > /capsule/main.sh 2>&1 || echo denied' });
  t.regex(r.stdout, /-r--r--r-- .*root root .*main\.sh/);
  t.regex(r.stdout, /denied/);
});

test('limits are applied to the container (memory without swap, pids, cpus)', async (t) => {
  const r = await service.runCommand({ command: 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max' });
  const [mem, pids] = r.stdout.trim().split('\n');
  t.is(Number(mem), 512 * 1024 * 1024);
  t.is(pids, '256');
});

test('every container carries the capsule labels', async (t) => {
  const seen = new Promise<Record<string, string>>((resolve) => {
    const poll = setInterval(async () => {
      const found = await runtime.list({ 'capsule.managed': 'true', 'capsule.instance': 'itest' });
      const mine = found.find((c) => c.labels['capsule.profile'] === 'default' && c.labels['capsule.kind'] === 'run');
      if (mine) {
        clearInterval(poll);
        resolve(mine.labels);
      }
    }, 50);
  });
  const run = service.runCommand({ command: 'sleep 2' });
  const labels = await seen;
  const r = await run;
  t.is(labels['capsule.managed'], 'true');
  t.is(labels['capsule.kind'], 'run');
  t.truthy(labels['capsule.run_id']);
  t.is(r.status, 'exited');
});
