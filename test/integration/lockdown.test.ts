import test from 'ava';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { realServices, runtime } from '../helpers/engine.js';
import { runtimeCases } from '../helpers/runtimes.js';

for (const rc of runtimeCases()) {
  test.before(rc.ready);
  const service = realServices({ profiles: [rc.profile()] }).sandbox;

  test(`[${rc.label}] the root filesystem is read-only; /tmp and /workspace are writable`, async (t) => {
    const r = await service.runCommand({
      command: 'touch /usr/x 2>&1 || echo ro-usr; touch /x 2>&1 || echo ro-root; touch /tmp/a /workspace/b && echo rw-ok',
    });
    t.regex(r.stdout, /ro-usr/);
    t.regex(r.stdout, /ro-root/);
    t.regex(r.stdout, /rw-ok/);
  });

  test(`[${rc.label}] no network: only the loopback interface exists`, async (t) => {
    // /proc/net/dev: gVisor's sysfs has no /sys/class/net.
    const r = await service.runCommand({ command: "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '" });
    t.is(r.stdout.trim(), 'lo');
  });

  test(`[${rc.label}] no capabilities and no_new_privs`, async (t) => {
    // prctl(PR_GET_NO_NEW_PRIVS) rather than /proc/self/status, which has no NoNewPrivs line under gVisor.
    const r = await service.runCommand({
      command: 'grep -E "^(CapEff|CapBnd)" /proc/self/status; python3 -c "import ctypes; print(\'NoNewPrivs:\', ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))"',
    });
    t.regex(r.stdout, /CapEff:\s+0000000000000000/);
    t.regex(r.stdout, /CapBnd:\s+0000000000000000/);
    t.regex(r.stdout, /NoNewPrivs: 1/);
  });

  test(`[${rc.label}] the code directory is readable but not writable by the sandbox user`, async (t) => {
    const r = await service.runCode({ language: 'bash', code: 'ls -l /capsule; echo x > /capsule/main.sh 2>&1 || echo denied' });
    t.regex(r.stdout, /-r--r--r-- .*root root .*main\.sh/);
    t.regex(r.stdout, /denied/);
  });

  test(`[${rc.label}] limits are applied to the container (memory without swap, pids, cpus)`, async (t) => {
    // Read on the host, where the kernel enforces them (gVisor's own cgroupfs shows no limits inside).
    await using run = await service.startCommand({ command: 'sleep 1' });
    const [c] = await runtime.list({ 'capsule.run_id': run.runId });
    const host = (controller: string, file: string) => readFileSync(`/sys/fs/cgroup/${controller}/docker/${c!.id}/${file}`, 'utf8').trim();
    // A memory guard (the gvisor profile) sets the engine's limit at memory + headroom: the launcher kills at memory.
    const engineLimit = 512 * 1024 * 1024 + (rc.profile().memoryGuardHeadroomBytes ?? 0);
    t.is(Number(host('memory', 'memory.limit_in_bytes')), engineLimit);
    t.is(Number(host('memory', 'memory.memsw.limit_in_bytes')), engineLimit, 'memory + swap = memory: no swap');
    t.is(host('pids', 'pids.max'), String(rc.profile().pidsLimit));
    t.is(host('cpu', 'cpu.cfs_quota_us'), host('cpu', 'cpu.cfs_period_us'), 'one CPU');
    t.is((await run.wait()).status, 'exited');
  });

  test(`[${rc.label}] the program runs under the profile's OCI runtime, and the result names it`, async (t) => {
    const r = await service.runCommand({ command: 'uname -r; dmesg 2>/dev/null | head -1' });
    t.is(r.runtime, rc.runtime);
    const [kernel, firstLog] = r.stdout.split('\n');
    if (rc.runtime === 'runsc') {
      // gVisor's own kernel answers uname and keeps its own log; the host's stays out of reach.
      t.not(kernel, release());
      t.regex(firstLog ?? '', /Starting gVisor/);
    } else t.is(kernel, release());
  });

  test(`[${rc.label}] every container carries the capsule labels`, async (t) => {
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
}
