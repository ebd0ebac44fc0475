import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import { DockerRuntime } from '../../server/runtime/docker/docker-runtime.js';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import type { RunResult } from '../../server/sandbox/runs/run-result.js';
import { buildServices, type Services } from '../../server/services.js';
import { shippedProfile, TEST_ENV } from '../helpers/engine.js';
import { type EngineSet, startEngines } from '../helpers/engines.js';
import { silentLog } from '../helpers/fixtures.js';

// One Capsule over three private engines (test/helpers/engines.ts: each its own dockerd, data root,
// exec root, socket and pid file), as CAPSULE_ENGINES would build it: runs spread over all three,
// placement labels, a workspace on its home engine, an engine SIGKILLed mid-run (its run ends failed
// naming it, runs go on elsewhere, it is reported down) and restarted (used again, its pool refilled),
// and nothing left on any engine. The engines are stopped by their pid files on every path (the
// harness's stop, its exit hook and watchdog). Warm (data roots kept) ~40 s; the first run loads the
// sandbox image into the three engines.

const INSTANCE = 'itest-engines';
const DEFS = [
  { name: 'eng-a', address: '127.0.0.6' },
  { name: 'eng-b', address: '127.0.0.7' },
  { name: 'eng-c', address: '127.0.0.8' },
];
const NAMES = DEFS.map((d) => d.name);

let set: EngineSet;
let services: Services;
/** A workspace whose home is eng-b, made before eng-b is killed. */
let wsOnB = '';

test.before(async () => {
  set = await startEngines(DEFS);
  const config = loadConfig({
    ...TEST_ENV,
    CAPSULE_DATA_DIR: mkdtempSync(join(tmpdir(), 'capsule-engines-data-')),
    CAPSULE_ENGINE_CHECK_INTERVAL_MS: '500',
    CAPSULE_REAP_INTERVAL_MS: '2000',
    CAPSULE_KILL_GRACE_MS: '200',
  });
  const engines = set.engines.map((e) => ({ name: e.name, labels: (e.name === 'eng-c' ? { zone: 'c' } : {}) as Record<string, string>, runtime: new DockerRuntime({ dockerHost: e.host, name: e.name }) }));
  const profiles = ProfileRegistry.fromProfiles([shippedProfile(), shippedProfile({ name: 'zone-c', engineLabels: { zone: 'c' }, pool: { size: 0, maxIdleMs: 300_000 } })]);
  services = buildServices(config, engines, silentLog, { profiles, instance: { name: INSTANCE, bootId: 'itest' }, storeDir: ':memory:' });
  await services.start();
});

test.after.always(async () => {
  await services?.[Symbol.asyncDispose]();
  await set?.stop();
});

const echo = (i: number) => services.sandbox.runCommand({ command: `echo run-${i}` });

/** What this server left on an engine: containers and volumes of its instance. */
async function leftOn(name: string): Promise<string[]> {
  const rt = set.get(name).runtime;
  const containers = await rt.list({ 'capsule.instance': INSTANCE });
  const volumes = await rt.listVolumes({ 'capsule.instance': INSTANCE });
  return [...containers.map((c) => `container ${c.id.slice(0, 12)} ${c.labels['capsule.kind']}`), ...volumes.map((v) => `volume ${v.name}`)];
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test.serial('runs spread over all three engines, each result naming its engine', async (t) => {
  const results: RunResult[] = [];
  for (let round = 0; round < 6; round++) results.push(...(await Promise.all([0, 1, 2].map((i) => echo(round * 3 + i)))));
  t.true(results.every((r, i) => r.status === 'exited' && r.stdout === `run-${i}\n`), JSON.stringify(results.map((r) => [r.status, r.stdout, r.error])));
  const by = Object.fromEntries(NAMES.map((n) => [n, results.filter((r) => r.engine === n).length]));
  t.log('runs per engine', by);
  for (const n of NAMES) t.true(by[n]! > 0, `${n} got runs: ${JSON.stringify(by)}`);
  const info = await services.sandbox.engine.systemInfo();
  t.deepEqual(info.engines.map((e) => [e.name, e.reachable, e.images_present, e.can_serve]), NAMES.map((n) => [n, true, true, true]));
  t.true(info.engines.every((e) => /^\d+\.\d+/.test(e.version ?? '') && e.runtimes.includes('runc')));
});

test.serial('placement labels: the zone-c profile runs only on eng-c', async (t) => {
  const results = await Promise.all([0, 1, 2, 3, 4, 5].map(() => services.sandbox.runCommand({ command: 'true', profile: 'zone-c' })));
  t.deepEqual(results.map((r) => [r.status, r.engine]), results.map(() => ['exited', 'eng-c']));
});

test.serial('a workspace follows its home engine: its volume is there, and its runs and files go there', async (t) => {
  const ws = await services.workspaces.create('local');
  const home = ws.engine!;
  t.true(NAMES.includes(home), home);
  for (const n of NAMES) {
    const has = (await set.get(n).runtime.listVolumes({ 'capsule.workspace': ws.workspace_id })).length > 0;
    t.is(has, n === home, `the volume of ${ws.workspace_id} is on ${home} only (${n}: ${has})`);
  }
  const written = await services.sandbox.runCommand({ command: 'echo kept > /workspace/note.txt', workspace_id: ws.workspace_id });
  t.is(written.engine, home);
  for (let i = 0; i < 4; i++) {
    const read = await services.sandbox.runCommand({ command: 'cat /workspace/note.txt', workspace_id: ws.workspace_id });
    t.deepEqual([read.engine, read.stdout], [home, 'kept\n']);
  }
  t.is((await services.workspaces.readFile('local', ws.workspace_id, 'note.txt')).content.toString(), 'kept\n');
  await services.workspaces.delete('local', ws.workspace_id);
  t.deepEqual(await set.get(home).runtime.listVolumes({ 'capsule.workspace': ws.workspace_id }), []);
});

test.serial('an engine killed mid-run: its run ends failed naming it, it is reported down, runs go on elsewhere, its workspace answers engine_unavailable', async (t) => {
  // A workspace on eng-b (placed while every engine is idle: best of two is then a coin).
  for (let i = 0; i < 12 && !wsOnB; i++) {
    const ws = await services.workspaces.create('local');
    if (ws.engine === 'eng-b') wsOnB = ws.workspace_id;
    else await services.workspaces.delete('local', ws.workspace_id);
  }
  t.truthy(wsOnB, 'a workspace landed on eng-b');
  await services.sandbox.runCommand({ command: 'echo before > /workspace/b.txt', workspace_id: wsOnB });
  // A long run on eng-b: place runs until one lands there (the others are killed at once).
  let onB: Promise<RunResult> | null = null;
  while (!onB) {
    const handle = await services.sandbox.startCommand({ command: 'sleep 60' });
    if (services.store.get(handle.runId, 'local')?.engine === 'eng-b') onB = handle.wait();
    else await handle.kill(new Error('placed elsewhere'));
  }
  const killedAt = Date.now();
  await set.get('eng-b').engine.kill();
  const lost = await onB;
  t.log(`the run on eng-b ended ${Date.now() - killedAt} ms after its engine was killed: ${lost.error}`);
  t.is(lost.status, 'failed');
  t.is(lost.engine, 'eng-b');
  t.regex(lost.error ?? '', /eng-b/);
  const results = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => echo(i)));
  t.deepEqual(results.map((r) => r.status), results.map(() => 'exited'), 'no client error while other engines serve');
  t.false(results.some((r) => r.engine === 'eng-b'));
  await until('eng-b is reported down', () => !services.engines.get('eng-b')!.facts.reachable, 5000);
  t.true(Date.now() - killedAt < 5000, 'marked down within a few seconds');
  const ready = await services.sandbox.engine.readiness();
  t.true(ready.ready, 'ready while eng-a and eng-c serve');
  const b = ready.engines.find((e) => e.name === 'eng-b')!;
  t.false(b.reachable);
  t.false(b.can_serve);
  t.truthy(b.last_error);
  t.true(ready.notes.some((n) => /engine "eng-b" takes no runs: down/.test(n)), ready.notes.join('\n'));
  const err = await t.throwsAsync(services.sandbox.runCommand({ command: 'cat /workspace/b.txt', workspace_id: wsOnB }));
  t.is((err as { code?: string }).code, 'engine_unavailable');
  t.regex(err!.message, new RegExp(`workspace ${wsOnB} lives on engine "eng-b", which is down`));
});

test.serial('the engine restarted: it gets runs again, its workspace is served again, its pool refills, and what the killed run left is removed', async (t) => {
  await set.get('eng-b').engine.start();
  await until('eng-b is reachable again', () => services.engines.get('eng-b')!.facts.reachable);
  const engines = new Set<string>();
  for (let round = 0; round < 10 && !engines.has('eng-b'); round++) for (const r of await Promise.all([0, 1, 2].map((i) => echo(i)))) engines.add(r.engine!);
  t.true(engines.has('eng-b'), `eng-b is used again: ${[...engines].join(', ')}`);
  const back = await services.sandbox.runCommand({ command: 'cat /workspace/b.txt', workspace_id: wsOnB });
  t.deepEqual([back.engine, back.stdout], ['eng-b', 'before\n'], 'the workspace is served by its home again, its files kept');
  await services.workspaces.delete('local', wsOnB);
  await until('eng-b\'s warm pool refills', () => (services.engines.get('eng-b')!.parts.pool?.sizes()['default'] ?? 0) >= 2, 30_000);
  // The killed run's container (and scratch volumes), and a warm container the engine made as it was
  // killed (its create never answered), are the reaper's once the engine answers: what is left is the
  // pool's own idle containers.
  const poolIdle = () => Object.values(services.engines.get('eng-b')!.parts.pool?.sizes() ?? {}).reduce((a, b) => a + b, 0);
  await until('nothing of the killed engine is left on eng-b but the idle pool', async () => {
    const left = await leftOn('eng-b');
    return left.every((l) => / pool$/.test(l)) && left.length === poolIdle();
  }, 30_000);
  t.pass();
});

test.serial('nothing is leaked on any engine once the server is disposed', async (t) => {
  await services[Symbol.asyncDispose]();
  for (const n of NAMES) t.deepEqual(await leftOn(n), [], `left on ${n}`);
});
