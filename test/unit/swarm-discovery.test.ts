import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../server/config.js';
import type { SwarmNodeInfo, SwarmNodeSource } from '../../server/runtime/swarm-nodes.js';
import { swarmEngines } from '../../server/sandbox/engines/swarm-engines.js';
import { ProfileRegistry } from '../../server/sandbox/profiles/profiles.js';
import { buildServices } from '../../server/services.js';
import { FakeRuntime } from '../helpers/fake-runtime.js';
import { silentLog, testProfile } from '../helpers/fixtures.js';

// Swarm discovery on fakes: which nodes are engines and their names, then joins, drains and leaves
// as the engine set sees them. test/integration/swarm-engines.test.ts does it on a real swarm.

const node = (id: string, hostname: string, labels: Record<string, string>, state = 'ready', availability: SwarmNodeInfo['availability'] = 'active'): SwarmNodeInfo => ({ id, hostname, state, availability, labels });

test('engines are the nodes labelled capsule.engine; names from capsule.engine.name, else hostname, node id on a collision', (t) => {
  const engines = swarmEngines([
    node('ID1', 'host-a', { 'capsule.engine': 'unix:///var/run/docker-a.sock', 'capsule.engine.name': 'alpha', zone: 'x' }),
    node('ID2', 'twin', { 'capsule.engine': 'tcp://127.0.0.3:2376' }),
    node('ID3', 'twin', { 'capsule.engine': 'tcp://127.0.0.4:2376' }, 'down', 'drain'),
    node('ID4', 'unlabelled', {}),
    node('ID5', 'bad', { 'capsule.engine': 'http://x' }),
  ]);
  t.deepEqual(engines.map((e) => [e.name, e.endpoint, e.ready, e.availability]), [
    ['alpha', 'unix:///var/run/docker-a.sock', true, 'active'],
    ['id2', 'tcp://127.0.0.3:2376', true, 'active'],
    ['id3', 'tcp://127.0.0.4:2376', false, 'drain'],
  ]);
  t.is(engines[0]!.labels['zone'], 'x', 'node labels are placement labels');
});

class FakeManager implements SwarmNodeSource {
  readonly endpoint = 'fake-manager://';
  nodes: SwarmNodeInfo[] = [];
  async listNodes(): Promise<SwarmNodeInfo[]> {
    return this.nodes.map((n) => ({ ...n, labels: { ...n.labels } }));
  }
}

test('joins, drains, moves and leaves: only Ready + Active nodes get runs, a drained node loses its pool, a moved one is attached again, a node that left is dropped', async (t) => {
  const manager = new FakeManager();
  const rts = new Map<string, FakeRuntime>();
  const endpointOf = (name: string) => `unix:///var/run/docker-${name}.sock`;
  const rtOf = (name: string, endpoint = endpointOf(name)) => rts.get(endpoint) ?? rts.set(endpoint, new FakeRuntime({ endpoint })).get(endpoint)!;
  const label = (name: string, endpoint = endpointOf(name)) => ({ 'capsule.engine': endpoint, 'capsule.engine.name': name });
  manager.nodes = [node('N1', 'h1', label('n1')), node('N2', 'h2', label('n2'))];
  const config = loadConfig({ CAPSULE_DATA_DIR: mkdtempSync(join(tmpdir(), 'capsule-test-data-')), CAPSULE_KILL_GRACE_MS: '50', CAPSULE_SWARM_REFRESH_MS: '100000' });
  const found = swarmEngines(await manager.listNodes());
  const services = buildServices(
    config,
    { engines: found.map((w) => ({ name: w.name, labels: w.labels, runtime: rtOf(w.name) })), swarm: { source: manager, runtimeFor: (w) => rtOf(w.name, w.endpoint) } },
    silentLog,
    { profiles: ProfileRegistry.fromProfiles([testProfile({ pool: { size: 1, maxIdleMs: 300_000 } })]), instance: { name: 'unit', bootId: 'test' }, storeDir: ':memory:' },
  );
  await using _s = services;
  await services.start();
  await services.engines.check();
  const spread = async (n = 20) => {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) seen.add((await services.sandbox.runCommand({ command: 'echo' })).engine!);
    return [...seen].sort();
  };
  t.deepEqual(await spread(), ['n1', 'n2']);

  // A third node joins.
  manager.nodes.push(node('N3', 'h3', label('n3')));
  await services.refreshSwarm();
  t.deepEqual(services.engines.all().map((e) => e.name), ['n1', 'n2', 'n3']);
  await services.engines.check();
  t.deepEqual(await spread(30), ['n1', 'n2', 'n3']);

  // n2 drained: no new runs there, its warm pool is removed.
  const poolBefore = [...rtOf('n2').containers.values()].length;
  t.true(poolBefore > 0, 'n2 had a warm container');
  manager.nodes[1] = node('N2', 'h2', label('n2'), 'ready', 'drain');
  await services.refreshSwarm();
  t.deepEqual(await spread(30), ['n1', 'n3']);
  t.is(services.engines.get('n2')!.parts.pool, undefined);
  t.is(rtOf('n2').containers.size, 0, 'the drained node\'s warm containers are removed');
  const info = await services.sandbox.engine.systemInfo();
  t.is(info.engines.find((e) => e.name === 'n2')!.availability, 'drain');

  // Active again: runs and a pool again.
  manager.nodes[1] = node('N2', 'h2', label('n2'));
  await services.refreshSwarm();
  t.truthy(services.engines.get('n2')!.parts.pool);
  t.true((await spread(30)).includes('n2'));

  // n2's label names another endpoint: it is attached again there; the same label again changes nothing.
  const n2 = services.engines.get('n2');
  manager.nodes[1] = node('N2', 'h2', label('n2', 'tcp://127.0.0.22:2376'));
  await services.refreshSwarm();
  t.not(services.engines.get('n2'), n2);
  t.is(services.engines.get('n2')!.runtime, rtOf('n2', 'tcp://127.0.0.22:2376'));
  const moved = services.engines.get('n2');
  await services.refreshSwarm();
  t.is(services.engines.get('n2'), moved);
  await services.engines.check();
  t.true((await spread(30)).includes('n2'));
  t.is(rtOf('n2').containers.size, 0, 'the old endpoint\'s warm containers are removed');

  // n3 is not Ready (it died), then leaves: no runs, then dropped.
  manager.nodes[2] = node('N3', 'h3', label('n3'), 'down');
  await services.refreshSwarm();
  t.false((await spread(30)).includes('n3'));
  manager.nodes.splice(2, 1);
  await services.refreshSwarm();
  t.deepEqual(services.engines.all().map((e) => e.name), ['n1', 'n2']);
});
