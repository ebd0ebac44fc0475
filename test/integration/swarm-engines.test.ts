import test from 'ava';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import { DockerRuntime } from '../../server/runtime/docker/docker-runtime.js';
import { DockerSwarmNodes } from '../../server/runtime/docker/docker-swarm.js';
import { type SwarmEngine, swarmEngines } from '../../server/sandbox/engines/swarm-engines.js';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { buildServices, type Services } from '../../server/services.js';
import { shippedProfile, TEST_ENV } from '../helpers/engine.js';
import { type EngineSet, startEngines } from '../helpers/engines.js';
import { silentLog } from '../helpers/fixtures.js';
import type { Swarm } from '../helpers/swarm.js';

// Engines from a real two-node Swarm (test/helpers/swarm.ts, on loopback addresses): Capsule reads the
// manager's nodes as CAPSULE_SWARM_MANAGER does (main.ts), finds both labelled nodes, spreads runs over
// them; a drained node gets no new runs and loses its warm pool, and is used again once active; a node
// that leaves the swarm is dropped; one whose capsule.engine label names another endpoint is attached
// again there. The engines are stopped by their pid files on every path.

const INSTANCE = 'itest-swarm';
const DEFS = [
  { name: 'swe-m', address: '127.0.0.9' },
  { name: 'swe-w', address: '127.0.0.10' },
];

let set: EngineSet;
let swarm: Swarm;
let services: Services;

test.before(async () => {
  set = await startEngines(DEFS);
  swarm = await set.startSwarm();
  await swarm.labelEngines();
  const config = loadConfig({ ...TEST_ENV, CAPSULE_DATA_DIR: mkdtempSync(join(tmpdir(), 'capsule-swarm-data-')), CAPSULE_SWARM_REFRESH_MS: '600000', CAPSULE_KILL_GRACE_MS: '200' });
  // What main.ts does with CAPSULE_SWARM_MANAGER: the first read, then the timer (here: refreshSwarm()).
  const source = new DockerSwarmNodes({ dockerHost: set.get('swe-m').host });
  const runtimeFor = (w: SwarmEngine) => new DockerRuntime({ dockerHost: w.endpoint, name: w.name });
  const found = swarmEngines(await source.listNodes());
  const profiles = ProfileRegistry.fromProfiles([shippedProfile({ pool: { size: 1, maxIdleMs: 300_000 } })]);
  services = buildServices(config, { engines: found.map((w) => ({ name: w.name, labels: w.labels, runtime: runtimeFor(w) })), swarm: { source, runtimeFor } }, silentLog, {
    profiles,
    instance: { name: INSTANCE, bootId: 'itest' },
    storeDir: ':memory:',
  });
  await services.start();
});

test.after.always(async () => {
  await services?.[Symbol.asyncDispose]();
  await set?.stop();
});

async function enginesOf(n: number): Promise<string[]> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i += 2) for (const r of await Promise.all([0, 1].map(() => services.sandbox.runCommand({ command: 'true' })))) seen.add(`${r.status}@${r.engine}`);
  return [...seen].sort();
}

const poolOn = async (name: string) => (await set.get(name).runtime.list({ 'capsule.instance': INSTANCE, 'capsule.kind': 'pool' })).length;

async function until(what: string, ok: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test.serial('discovery: both labelled nodes are engines, named by capsule.engine.name, and runs go to both', async (t) => {
  t.deepEqual(services.engines.all().map((e) => [e.name, e.runtime.endpoint]), DEFS.map((d) => [d.name, `unix:///var/run/docker-${d.name}.sock`]));
  t.is(services.engines.get('swe-w')!.labels['capsule.engine.name'], 'swe-w', 'node labels are placement labels');
  t.deepEqual(await enginesOf(20), ['exited@swe-m', 'exited@swe-w']);
});

test.serial('a drained node gets no new runs and loses its warm pool; active again, it is used and refilled', async (t) => {
  await until('the worker has a warm container', async () => (await poolOn('swe-w')) > 0);
  await swarm.setAvailability(set.get('swe-w'), 'drain');
  await services.refreshSwarm();
  t.deepEqual(await enginesOf(16), ['exited@swe-m']);
  t.is(await poolOn('swe-w'), 0, 'its warm pool is removed');
  const info = await services.sandbox.engine.systemInfo();
  t.deepEqual(info.engines.map((e) => [e.name, e.availability, e.can_serve]), [['swe-m', 'active', true], ['swe-w', 'drain', false]]);
  await swarm.setAvailability(set.get('swe-w'), 'active');
  await services.refreshSwarm();
  t.true((await enginesOf(20)).includes('exited@swe-w'));
  await until('the worker\'s pool refills', async () => (await poolOn('swe-w')) > 0);
});

test.serial('a node whose capsule.engine label names another endpoint is attached again there; an unchanged label keeps the engine', async (t) => {
  const worker = set.get('swe-w');
  // Another endpoint of the same engine: a symlink to its socket.
  const alias = join(mkdtempSync(join(tmpdir(), 'capsule-engine-alias-')), 'docker.sock');
  symlinkSync(worker.host.replace(/^unix:\/\//, ''), alias);
  const before = services.engines.get('swe-w');
  await swarm.label(worker, { 'capsule.engine': `unix://${alias}` });
  await services.refreshSwarm();
  const after = services.engines.get('swe-w');
  t.is(after?.runtime.endpoint, `unix://${alias}`);
  t.not(after, before, 'a new engine object with its own runtime, pool and reaper');
  t.true((await enginesOf(20)).includes('exited@swe-w'));
  await until('the worker\'s pool refills through the new endpoint', async () => (await poolOn('swe-w')) > 0);
  await services.refreshSwarm();
  t.is(services.engines.get('swe-w'), after, 'the same label again changes nothing');
});

test.serial('a node that leaves the swarm is dropped; runs go on on the other', async (t) => {
  await swarm.leave(set.get('swe-w'));
  await services.refreshSwarm();
  t.deepEqual(services.engines.all().map((e) => e.name), ['swe-m']);
  t.deepEqual(await enginesOf(6), ['exited@swe-m']);
  t.is(await poolOn('swe-w'), 0, 'a dropped engine\'s warm pool is removed');
});

test.serial('nothing is left on either engine once the server is disposed', async (t) => {
  await services[Symbol.asyncDispose]();
  for (const d of DEFS) {
    const rt = set.get(d.name).runtime;
    t.deepEqual((await rt.list({ 'capsule.instance': INSTANCE })).map((c) => c.id), [], `containers on ${d.name}`);
    t.deepEqual((await rt.listVolumes({ 'capsule.instance': INSTANCE })).map((v) => v.name), [], `volumes on ${d.name}`);
  }
});
