import test from 'ava';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { httpClient } from '../helpers/mcp-client.js';
import { type PrivateEngine, startPrivateEngine } from '../helpers/private-engine.js';
import { type RunningServer, startServer } from '../helpers/server-process.js';
import { buildContainerSpec } from '../../server/sandbox/container/container-spec.js';
import { runLabels } from '../../server/sandbox/container/labels.js';
import { launcherCommand, launcherEvents } from '../../server/sandbox/container/launcher-protocol.js';
import { shippedProfile } from '../helpers/engine.js';
import { DEFAULT_SANDBOX_IMAGE } from '../../server/version.js';

// When the engine stops mid-run, dockerd SIGTERMs the container, tini and the launcher forward it, and
// the program "exits 143": without more, that read as a normal exit. These stop a real (private)
// engine under a running command and a background process. Serial: they stop the same engine.

let engine: PrivateEngine | undefined;
let server: RunningServer | undefined;

/** These tests need a launcher that reports terminated_by (sandbox image 0.4.0 on): fail clearly otherwise. */
async function requireTerminatedBy(image: string): Promise<void> {
  const profile = shippedProfile({ image });
  const spec = buildContainerSpec({
    profile, limits: { memoryBytes: profile.memoryBytes, cpus: profile.cpus, pids: profile.pidsLimit }, argv: [], env: {}, workdir: '/workspace',
    openStdin: false, withJobDir: false, workspaceMount: null, labels: runLabels({ runId: 'probe', kind: 'run', profile: 'default', owner: 'test', instance: { name: 'e2e-engine-stop-probe', bootId: 'probe' } }),
  });
  spec.cmd = launcherCommand(['true'], null);
  const id = await engine!.runtime.create(spec);
  try {
    const io = await engine!.runtime.attach(id);
    await engine!.runtime.start(id);
    for await (const event of launcherEvents(io.output)) {
      if (event.kind === 'exit' && event.exit.terminated_by === undefined) throw new Error(`${image}: its launcher predates terminated_by; rebuild it: bash images/build.sh sandbox`);
      if (event.kind === 'exit') return;
    }
  } finally {
    await engine!.runtime.remove(id);
  }
}

test.before(async (t) => {
  engine = await startPrivateEngine('e2e-engine-stop');
  t.log(`private engine: started in ${engine.timings.startMs} ms, image load ${engine.timings.loadMs} ms (0 = already loaded)`);
  await requireTerminatedBy(process.env['CAPSULE_SANDBOX_IMAGE'] || DEFAULT_SANDBOX_IMAGE);
  // No pool (cold runs only, so no warm containers to account for); the reaper every second.
  server = await startServer({ DOCKER_HOST: engine.host, CAPSULE_POOL: '0', CAPSULE_REAP_INTERVAL_MS: '1000' });
});

test.after.always(async () => {
  await server?.stop();
  await engine?.stop();
});

interface Result {
  status: string;
  exit_code: number | null;
  stdout: string;
  error?: string;
}

/** After the engine is back, the reaper removes every container this server left behind. */
async function nothingLeft(): Promise<number> {
  const end = Date.now() + 20_000;
  let left = await engine!.runtime.list({ 'capsule.instance': server!.instance });
  while (left.length > 0 && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 250));
    left = await engine!.runtime.list({ 'capsule.instance': server!.instance });
  }
  return left.length;
}

/** run_command `echo started; sleep 60`, doing `action` to the engine once "started" has streamed back. */
async function runAndThen(action: () => Promise<void>) {
  const { client, call } = await httpClient(server!.url);
  await client.listTools();
  let acted: Promise<void> | undefined;
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    if (n.params.logger === 'stdout' && String(n.params.data).includes('started')) acted ??= action();
  });
  const run = await call<Result>('run_command', { command: 'echo started; sleep 60' });
  await acted;
  await client.close();
  return run;
}

// Each test leaves the engine running, even when it fails half-way, so the next one is not affected.
test.afterEach.always(() => engine!.start());

test.serial('the engine shutting down mid-run: failed, the engine stopped it, partial output kept; nothing leaked', async (t) => {
  const run = await runAndThen(() => engine!.stop());
  t.true(run.result.isError);
  t.is(run.s.status, 'failed');
  t.regex(run.s.error ?? '', /^the Docker engine stopped the container \(engine shutting down\): the program got SIGTERM/);
  t.is(run.s.stdout, 'started\n');
  await engine!.start();
  t.is(await nothingLeft(), 0, 'the reaper removed the stopped container once the engine was back');
});

test.serial('a background process the engine stopped is failed (wait_process and get_run)', async (t) => {
  const { client, call } = await httpClient(server!.url);
  await client.listTools();
  const started = await call<{ process_id: string; run_id: string }>('start_process', { command: 'echo started; sleep 60' });
  let out = '';
  for (let i = 0; i < 100 && !out.includes('started'); i++) {
    const r = await call<{ chunks: Array<{ data: string }> }>('read_process_output', { process_id: started.s.process_id });
    out += r.s.chunks.map((c) => c.data).join('');
    if (!out.includes('started')) await new Promise((res) => setTimeout(res, 100));
  }
  t.is(out, 'started\n');
  await engine!.stop();
  const waited = await call<{ done: boolean; state: string; result: Result }>('wait_process', { process_id: started.s.process_id, timeout_ms: 30_000 });
  t.like(waited.s, { done: true, state: 'failed' });
  t.regex(waited.s.result.error ?? '', /the Docker engine stopped the container/);
  t.is(waited.s.result.stdout, 'started\n');
  const record = await call<{ status: string; result: Result }>('get_run', { run_id: started.s.run_id });
  t.is(record.s.status, 'failed');
  t.regex(record.s.result.error ?? '', /the Docker engine stopped the container/);
  await client.close();
  await engine!.start();
  t.is(await nothingLeft(), 0);
});

test.serial('the engine dying mid-run (SIGKILL: no exit frame, wait fails): failed, naming the engine; nothing leaked once it is back', async (t) => {
  const run = await runAndThen(() => engine!.kill());
  t.is(run.s.status, 'failed');
  t.regex(run.s.error ?? '', /^the Docker engine stopped or became unreachable mid-run/);
  t.is(run.s.stdout, 'started\n');
  // The container outlived its dockerd (its shim runs on); the restarted engine stops it, the reaper removes it.
  await engine!.start();
  t.is(await nothingLeft(), 0);
});

test.serial('a SIGTERM from outside Capsule with the engine up (docker stop) is failed, saying so', async (t) => {
  const run = await runAndThen(async () => {
    const [c] = await engine!.runtime.list({ 'capsule.instance': server!.instance, 'capsule.kind': 'run' });
    await engine!.runtime.kill(c!.id, 'SIGTERM');
  });
  t.is(run.s.status, 'failed');
  t.regex(run.s.error ?? '', /^the container was stopped from outside Capsule \(e\.g\. docker stop\): the program got SIGTERM/);
  t.is(run.s.stdout, 'started\n');
  t.is(await nothingLeft(), 0);
});

test.serial('Capsule\'s own SIGTERM at a timeout is still timed_out on a real engine', async (t) => {
  const { client, call } = await httpClient(server!.url);
  await client.listTools();
  const run = await call<Result>('run_command', { command: 'echo started; sleep 60', timeout_ms: 1500 });
  t.is(run.s.status, 'timed_out');
  t.is(run.s.error, undefined);
  t.is(run.s.stdout, 'started\n');
  await client.close();
});
