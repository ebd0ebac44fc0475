import { runWatched } from '../helpers/services.js';
import test from 'ava';
import { assertNoContainer, realServices } from '../helpers/engine.js';
import { runtimeCases } from '../helpers/runtimes.js';

for (const rc of runtimeCases()) {
  test.before(rc.ready);
  const service = realServices({ profiles: [rc.profile()] }).sandbox;

  test(`[${rc.label}] exit code, stdout and stderr are reported; the container is gone afterwards`, async (t) => {
    const r = await service.runCommand({ command: 'echo out; echo err >&2; exit 7' });
    t.is(r.status, 'exited');
    t.is(r.exit_code, 7);
    t.is(r.stdout, 'out\n');
    t.is(r.stderr, 'err\n');
    t.is(r.stdout_bytes, 4);
    t.false(r.truncated);
    await assertNoContainer(t, r.run_id);
  });

  test(`[${rc.label}] runs as uid 10001 in /workspace`, async (t) => {
    const r = await service.runCommand({ command: 'echo hi; id -u; pwd' });
    t.is(r.stdout, 'hi\n10001\n/workspace\n');
  });

  test(`[${rc.label}] stdin is delivered and closed`, async (t) => {
    const r = await service.runCommand({ command: 'wc -l; cat', stdin: 'a\nb\nc\n' });
    t.is(r.exit_code, 0);
    t.is(r.stdout.trim(), '3');
  });

  test(`[${rc.label}] a program that ignores its stdin still finishes`, async (t) => {
    const r = await service.runCommand({ command: 'echo ok', stdin: 'x'.repeat(500_000) });
    t.is(r.status, 'exited', r.error ?? '');
    t.is(r.stdout, 'ok\n');
  });

  test(`[${rc.label}] the program gets the default SIGPIPE (the launcher ignores it only for itself)`, async (t) => {
    // A shell whose SIGPIPE was ignored at exec could not die of one; with the default it does (141).
    const r = await service.runCommand({ command: `sh -c 'kill -PIPE $$; echo survived'; echo "rc=$?"` });
    t.is(r.stdout, 'rc=141\n');
  });

  test(`[${rc.label}] env and workdir are applied`, async (t) => {
    const r = await service.runCommand({ command: 'echo "$GREETING"; pwd', env: { GREETING: 'hello world' }, workdir: '/tmp' });
    t.is(r.stdout, 'hello world\n/tmp\n');
  });

  test(`[${rc.label}] timeout kills the container and keeps the partial output`, async (t) => {
    const started = Date.now();
    const r = await service.runCommand({ command: 'echo partial; sleep 30; echo never', timeout_ms: 3000 });
    t.is(r.status, 'timed_out');
    t.is(r.stdout, 'partial\n');
    t.true(Date.now() - started < 10_000);
    t.truthy(r.signal);
    await assertNoContainer(t, r.run_id);
  });

  test(`[${rc.label}] a process ignoring SIGTERM is still ended at the timeout`, async (t) => {
    const r = await service.runCommand({ command: "trap '' TERM; echo stubborn; while :; do sleep 1; done", timeout_ms: 3000 });
    t.is(r.status, 'timed_out');
    t.is(r.stdout, 'stubborn\n');
    t.is(r.signal, 'SIGKILL');
    await assertNoContainer(t, r.run_id);
  });

  test(`[${rc.label}] output over the cap is truncated, counted and reported`, async (t) => {
    const r = await service.runCommand({ command: 'head -c 3000000 /dev/zero | tr "\\0" a; echo; echo END' });
    t.is(r.status, 'exited');
    t.true(r.truncated);
    t.is(r.stdout_bytes, 3_000_005);
    t.true(r.stdout.length < 1.1 * 1024 * 1024);
    t.true(r.stdout.endsWith('END\n'));
  });

  test(`[${rc.label}] cancellation kills the run and removes the container`, async (t) => {
    const controller = new AbortController();
    // Cancel once the program is surely running: on its first output.
    const r = await runWatched(service, { command: 'echo started; sleep 30' }, () => controller.abort(), { signal: controller.signal });
    t.is(r.status, 'killed');
    t.is(r.stdout, 'started\n');
    await assertNoContainer(t, r.run_id);
  });
}
