import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import type { Profile } from '../../server/sandbox/profiles/profiles.js';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { bestOfTwo, loadAfter, matchesLabels } from '../../server/sandbox/engines/placement.js';
import { buildServices, type Services } from '../../server/services.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { silentLog, testProfile } from '../helpers/fixtures.js';

// The engine set with several fake engines: placement, labels, health (down, back), workspaces'
// home engines, and what system_info and /readyz say. The real-engine version is
// test/integration/engines.test.ts.

interface Fleet {
  services: Services;
  rt: Record<string, FakeRuntime>;
}

function fleet(names: string[], options: { profiles?: Profile[]; labels?: Record<string, Record<string, string>>; env?: Record<string, string> } = {}): Fleet {
  const rt = Object.fromEntries(names.map((n) => [n, new FakeRuntime({ requestTimeoutMs: 2000 })]));
  const config = loadConfig({ CAPSULE_DATA_DIR: mkdtempSync(join(tmpdir(), 'capsule-test-data-')), CAPSULE_KILL_GRACE_MS: '50', CAPSULE_ENGINE_CHECK_INTERVAL_MS: '200', ...options.env });
  const engines = names.map((name) => ({ name, labels: options.labels?.[name] ?? {}, runtime: rt[name]! }));
  const services = buildServices(config, engines, silentLog, {
    profiles: ProfileRegistry.fromProfiles(options.profiles ?? [testProfile()]),
    instance: { name: 'unit', bootId: 'test' },
    storeDir: ':memory:',
  });
  return { services, rt };
}

const created = (rt: FakeRuntime) => rt.specs.filter((s) => s.labels['capsule.kind'] === 'run').length;

test('best of two: the less loaded of two random candidates; one candidate is itself; none is null', (t) => {
  const loads = new Map([['a', 0.9], ['b', 0.1], ['c', 0.5]]);
  const load = (n: string) => loads.get(n)!;
  // random() 0 then 0: a (index 0) against b (index 1): b wins.
  t.is(bestOfTwo(['a', 'b', 'c'], load, () => 0), 'b');
  // 0.99 then 0: c against a: c wins.
  t.is(bestOfTwo(['a', 'b', 'c'], load, (() => { const seq = [0.99, 0]; return () => seq.shift()!; })()), 'c');
  t.is(bestOfTwo(['a'], load), 'a');
  t.is(bestOfTwo([], load), null);
  // Never the most loaded of three when drawing two distinct ones.
  for (let i = 0; i < 200; i++) t.not(bestOfTwo(['a', 'b', 'c'], load), 'a');
});

test('load is live CPU and memory limits against capacity, whichever is fuller', (t) => {
  t.is(loadAfter({ cpus: 4, memoryBytes: 8 * 2 ** 30, reservedCpus: 1, reservedMemoryBytes: 0 }, { cpus: 1, memoryBytes: 1 << 30 }), 0.5);
  t.is(loadAfter({ cpus: 4, memoryBytes: 2 * 2 ** 30, reservedCpus: 0, reservedMemoryBytes: 2 ** 30 }, { cpus: 1, memoryBytes: 1 << 30 }), 1);
  t.true(matchesLabels({ zone: 'a', gpu: 'yes' }, { zone: 'a' }));
  t.false(matchesLabels({ zone: 'b' }, { zone: 'a' }));
  t.true(matchesLabels({}, undefined));
});

test('runs spread over every engine, each result and record naming its engine', async (t) => {
  const { services, rt } = fleet(['e1', 'e2', 'e3']);
  await using _s = services;
  await services.engines.check();
  const results = [];
  for (let i = 0; i < 30; i++) results.push(await services.sandbox.runCommand({ command: 'echo' }));
  const by = new Map<string, number>();
  for (const r of results) by.set(r.engine!, (by.get(r.engine!) ?? 0) + 1);
  t.deepEqual([...by.keys()].sort(), ['e1', 'e2', 'e3'], JSON.stringify([...by]));
  for (const name of ['e1', 'e2', 'e3']) t.is(created(rt[name]!), by.get(name) ?? 0, `${name} created its own runs' containers`);
  t.is(services.store.get(results[0]!.run_id, 'local')?.engine, results[0]!.engine);
  for (const r of Object.values(rt)) t.is(r.containers.size, 0, 'nothing left on any engine');
});

test('placement labels: a profile runs only where its labels are; none fits: engine_unavailable naming why', async (t) => {
  const gpu = testProfile({ name: 'gpu', engineLabels: { gpu: 'yes' } });
  const nowhere = testProfile({ name: 'nowhere', engineLabels: { zone: 'mars' } });
  const { services } = fleet(['e1', 'e2', 'e3'], { profiles: [testProfile(), gpu, nowhere], labels: { e2: { gpu: 'yes' } } });
  await using _s = services;
  for (let i = 0; i < 8; i++) t.is((await services.sandbox.runCommand({ command: 'echo', profile: 'gpu' })).engine, 'e2');
  const err = await t.throwsAsync(services.sandbox.runCommand({ command: 'echo', profile: 'nowhere' }));
  t.is((err as { code?: string }).code, 'engine_unavailable');
  t.regex(err!.message, /engine "e1" lacks the labels \{"zone":"mars"\}/);
});

test('an engine that stops answering: its run ends failed naming it, new runs go elsewhere, and it is used again once back', async (t) => {
  const { services, rt } = fleet(['e1', 'e2']);
  await using _s = services;
  await services.engines.check();
  // A long run on e1 (the coin says e1 first).
  let running: Promise<import('../../server/sandbox/runs/run-result.js').RunResult> | null = null;
  while (!running) {
    rt.e1!.next = { runMs: Infinity };
    rt.e2!.next = { runMs: Infinity };
    const handle = await services.sandbox.startCommand({ command: 'sleep 1000' });
    const r = handle.wait();
    if (services.store.get(handle.runId, 'local')?.engine === 'e1') running = r;
    else await handle.kill(new Error('not this one'));
  }
  rt.e1!.silent = true;
  await services.engines.check();
  t.true(services.engines.get('e1')!.facts.reachable, 'one missed deadline is not down yet (a loaded engine)');
  await services.engines.check();
  t.false(services.engines.get('e1')!.facts.reachable, 'two in a row are');
  const lost = await running;
  t.is(lost.status, 'failed');
  t.is(lost.engine, 'e1');
  t.regex(lost.error ?? '', /engine "e1" stopped answering/);
  rt.e2!.next = {};
  for (let i = 0; i < 6; i++) t.is((await services.sandbox.runCommand({ command: 'echo' })).engine, 'e2', 'no client error while e2 serves');
  const ready = await services.sandbox.engine.readiness();
  t.true(ready.ready, 'ready while one engine serves');
  t.deepEqual(ready.engines.map((e) => [e.name, e.reachable]), [['e1', false], ['e2', true]]);
  t.true(ready.notes.some((n) => /engine "e1" takes no runs: down/.test(n)), ready.notes.join('\n'));
  rt.e1!.silent = false;
  rt.e1!.next = {};
  await services.engines.check();
  const engines = new Set<string>();
  for (let i = 0; i < 30; i++) engines.add((await services.sandbox.runCommand({ command: 'echo' })).engine!);
  t.true(engines.has('e1'), 'e1 gets runs again');
});

test('every engine down: engine_unavailable naming each, and not ready', async (t) => {
  const { services, rt } = fleet(['e1', 'e2']);
  await using _s = services;
  rt.e1!.engineDown = true;
  rt.e2!.engineDown = true;
  await services.engines.check();
  const err = await t.throwsAsync(services.sandbox.runCommand({ command: 'echo' }));
  t.is((err as { code?: string }).code, 'engine_unavailable');
  t.regex(err!.message, /engine "e1" is down.*engine "e2" is down/);
  const ready = await services.sandbox.engine.readiness();
  t.false(ready.ready);
  t.regex(ready.ready ? '' : ready.reason, /no engine can serve: "e1": down .*"e2": down/);
});

test('a workspace lives on its home engine: runs and files go there; on a down home it answers engine_unavailable naming it', async (t) => {
  const { services, rt } = fleet(['e1', 'e2', 'e3']);
  await using _s = services;
  await services.engines.check();
  const ws = await services.workspaces.create('local');
  const home = ws.engine!;
  t.true(['e1', 'e2', 'e3'].includes(home));
  t.true([...rt[home]!.volumes.keys()].some((v) => v.includes(ws.workspace_id.slice(3))), 'its volume is on its home engine');
  for (let i = 0; i < 5; i++) t.is((await services.sandbox.runCommand({ command: 'echo', workspace_id: ws.workspace_id })).engine, home);
  await services.workspaces.writeFiles('local', ws.workspace_id, [{ path: 'a.txt', content: 'hi' }]);
  t.is((await services.workspaces.readFile('local', ws.workspace_id, 'a.txt')).content.toString(), 'hi');
  t.deepEqual((await services.workspaces.list('local')).map((w) => [w.workspace_id, w.engine]), [[ws.workspace_id, home]]);
  rt[home]!.engineDown = true;
  await services.engines.check();
  const err = await t.throwsAsync(services.sandbox.runCommand({ command: 'echo', workspace_id: ws.workspace_id }));
  t.is((err as { code?: string }).code, 'engine_unavailable');
  t.regex(err!.message, new RegExp(`workspace ${ws.workspace_id} lives on engine "${home}", which is down`));
  await t.throwsAsync(services.workspaces.readFile('local', ws.workspace_id, 'a.txt'), { message: new RegExp(`engine "${home}"`) });
});

test('system_info lists every engine: reachable, version, runtimes, images, live runs, pool idle, last error', async (t) => {
  const { services, rt } = fleet(['e1', 'e2'], { labels: { e2: { zone: 'b' } } });
  await using _s = services;
  rt.e2!.absentImages.add('capsule/sandbox:test');
  await services.engines.check();
  const info = await services.sandbox.engine.systemInfo();
  t.deepEqual(info.engines.map((e) => ({ name: e.name, reachable: e.reachable, version: e.version, images: e.images_present, serves: e.can_serve, labels: e.labels })), [
    { name: 'e1', reachable: true, version: 'fake', images: true, serves: true, labels: {} },
    { name: 'e2', reachable: true, version: 'fake', images: false, serves: false, labels: { zone: 'b' } },
  ]);
  t.deepEqual(info.engines[1]!.missing_images, ['capsule/sandbox:test']);
  t.deepEqual(info.engines[0]!.runtimes, ['runc']);
  t.is(info.engines[0]!.live_runs, 0);
  t.is(info.engines[0]!.pool_idle, 0);
});

test('without CAPSULE_ENGINES: one engine named default, never probed or refused', async (t) => {
  const { services, rt } = fleet(['default']);
  await using _s = services;
  t.false(services.engines.many);
  rt.default!.engineDown = true;
  const err = await t.throwsAsync(services.sandbox.runCommand({ command: 'echo' }));
  t.regex(err!.message, /not reachable at fake:\/\//, 'the engine\'s own error, as before engines');
  rt.default!.engineDown = false;
  t.is((await services.sandbox.runCommand({ command: 'echo' })).engine, 'default');
});

test('a start that finds its engine unreachable before any probe: marked down, the run goes to another with no error', async (t) => {
  const { services, rt } = fleet(['e1', 'e2', 'e3']);
  await using _s = services;
  rt.e1!.engineDown = true;
  const results = [];
  for (let i = 0; i < 12; i++) results.push(await services.sandbox.runCommand({ command: 'echo' }));
  t.true(results.every((r) => r.status === 'exited' && r.engine !== 'e1'), JSON.stringify(results.map((r) => r.engine)));
  t.false(services.engines.get('e1')!.facts.reachable, 'marked down by the failed start');
  t.regex(services.engines.get('e1')!.facts.lastError ?? '', /not reachable/);
  for (const r of Object.values(rt)) t.is(r.containers.size, 0, 'nothing left on any engine');
});

test('the owner\'s workspace limit counts every engine', async (t) => {
  const { services } = fleet(['e1', 'e2', 'e3'], { env: { CAPSULE_MAX_WORKSPACES_PER_OWNER: '2' } });
  await using _s = services;
  await services.workspaces.create('local');
  await services.workspaces.create('local');
  await t.throwsAsync(services.workspaces.create('local'), { message: /already has 2 workspaces \(limit 2\)/ });
  t.is((await services.workspaces.create('bob')).workspace_id.length, 19, 'another owner has their own');
});
