import test from 'ava';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ContainerSpec } from '../../server/runtime/container-runtime.js';
import { DEFAULT_SANDBOX_IMAGE } from '../../server/version.js';
import { type EngineSet, startEngines, TLS_PORT } from '../helpers/engines.js';
import { RUN_BASE } from '../helpers/private-engine.js';
import type { Swarm } from '../helpers/swarm.js';

// The many-engines harness itself (test/helpers/engines.ts): three private engines over unix sockets
// and TLS, and a two-node swarm of two of them. Warm (data roots kept) it takes ~10 s; the first run
// loads the sandbox image into the three engines (~20 s).

const exec = promisify(execFile);
const DEFS = [
  { name: 'sw-a', address: '127.0.0.2' },
  { name: 'sw-b', address: '127.0.0.3' },
  { name: 'sw-c', address: '127.0.0.4' },
];

let set: EngineSet;
let swarm: Swarm;

test.before(async () => {
  set = await startEngines(DEFS, { tls: true });
});
test.after.always(async () => {
  await set?.stop();
});

function spec(cmd: string[]): ContainerSpec {
  return {
    image: DEFAULT_SANDBOX_IMAGE, cmd, user: '10001:10001', workdir: '/tmp', env: {}, labels: { 'capsule.test': 'engines-harness' },
    openStdin: false, memoryBytes: 64 << 20, nanoCpus: 1e9, pidsLimit: 16, ulimits: [], tmpfs: {}, volumes: [], network: 'none',
    readOnlyRootfs: true, capDrop: ['ALL'], noNewPrivileges: true, init: true,
  };
}

/** An HTTPS request to `url` with the CA but no client certificate: the engine must refuse it. */
function withoutClientCert(url: string, ca: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(url, { ca, timeout: 5000 }, (res) => resolve(`answered ${res.statusCode}`));
    req.once('error', (err) => resolve(`refused: ${err.message}`));
    req.end();
  });
}

test.serial('three engines answer on their sockets and over TLS, each with the sandbox image and its own host name', async (t) => {
  for (const e of set.engines) {
    t.is(e.host, `unix:///var/run/docker-${e.name}.sock`);
    t.is(e.tcpHost, `tcp://${DEFS.find((d) => d.name === e.name)!.address}:${TLS_PORT}`);
    const viaTls = e.tlsRuntime();
    t.is(viaTls.endpoint, e.tcpHost!);
    t.regex((await viaTls.info()).version, /^\d+\.\d+/);
    t.truthy(await viaTls.inspectImage(DEFAULT_SANDBOX_IMAGE), `${e.name} has ${DEFAULT_SANDBOX_IMAGE}`);
    t.is((await e.docker(['info', '--format', '{{.Name}}'])).trim(), e.name);
    for (const f of ['ca.pem', 'cert.pem', 'key.pem']) t.true(existsSync(join(e.certPath!, f)), `${e.certPath}/${f}`);
    // The same port without a client certificate, and without TLS at all, gets nothing.
    t.regex(await withoutClientCert(`https://${e.address}:${TLS_PORT}/_ping`, set.pki!.caPem), /^refused/);
    const plain = await fetch(`http://${e.address}:${TLS_PORT}/_ping`, { signal: AbortSignal.timeout(5000) }).then((r) => `answered ${r.status}`, () => 'refused');
    t.not(plain, 'answered 200', 'plain HTTP on the TLS port does not reach the API');
  }
});

test.serial('a container runs on each engine (create, start, wait, remove over TLS)', async (t) => {
  await Promise.all(set.engines.map(async (e, i) => {
    const rt = e.tlsRuntime();
    const id = await rt.create(spec(['sh', '-c', `exit ${40 + i}`]));
    try {
      await rt.start(id);
      t.is(await rt.wait(id), 40 + i, `container ${id} on ${e.name}`);
    } finally {
      await rt.remove(id);
    }
    t.deepEqual(await rt.list({ 'capsule.test': 'engines-harness' }), [], `nothing left on ${e.name}`);
  }));
});

test.serial('a two-node swarm: both Ready, named after their engines, labelled as Capsule engines', async (t) => {
  swarm = await set.startSwarm('sw-a', ['sw-b']);
  await swarm.labelEngines();
  const nodes = await swarm.nodes();
  t.deepEqual(nodes.map((n) => [n.hostname, n.role, n.state, n.availability]).sort(), [['sw-a', 'manager', 'ready', 'active'], ['sw-b', 'worker', 'ready', 'active']]);
  for (const n of nodes) t.like(n.labels, { 'capsule.engine': `unix:///var/run/docker-${n.hostname}.sock`, 'capsule.engine.name': n.hostname });
  t.is((await set.get('sw-c').docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'inactive', 'sw-c stays out');
  // The routing mesh is gone (it cannot span engines on one host) and left no bridge on the host.
  t.false((await set.get('sw-a').docker(['network', 'ls', '--format', '{{.Name}}'])).split('\n').includes('ingress'));
  t.false(/^(docker_gwbridge|capgw-0-2)\s/m.test((await exec('ip', ['-br', 'link'])).stdout));
});

test.serial('drain, pause and active show in docker node ls and node inspect', async (t) => {
  const b = set.get('sw-b');
  const availability = async () => (await set.get('sw-a').docker(['node', 'ls', '--format', '{{.Hostname}} {{.Availability}}'])).trim().split('\n').sort();
  await swarm.setAvailability(b, 'drain');
  t.deepEqual(await availability(), ['sw-a Active', 'sw-b Drain']);
  t.is((await set.get('sw-a').docker(['node', 'inspect', '--format', '{{.Spec.Availability}}', await swarm.nodeId(b)])).trim(), 'drain');
  await swarm.setAvailability(b, 'pause');
  t.is((await swarm.nodes()).find((n) => n.hostname === 'sw-b')?.availability, 'pause');
  await swarm.setAvailability(b, 'active');
  t.deepEqual(await availability(), ['sw-a Active', 'sw-b Active']);
});

test.serial('a node that leaves is gone from docker node ls after node rm, and can join again', async (t) => {
  const b = set.get('sw-b');
  const oldId = await swarm.nodeId(b);
  await swarm.leave(b);
  const listed = (await set.get('sw-a').docker(['node', 'ls', '--format', '{{.ID}} {{.Hostname}}'])).trim().split('\n');
  t.is(listed.length, 1, listed.join('\n'));
  t.false(listed.some((l) => l.startsWith(oldId) || l.endsWith(' sw-b')));
  t.is((await b.docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim(), 'inactive');
  const again = await swarm.join(b);
  t.not(again.id, oldId, 'a node that joins again is a new node');
  t.is(again.state, 'ready');
});

test.serial('teardown leaves no dockerd, no swarm, no listener, no mounts and no temp CA; the data roots (with the image) stay', async (t) => {
  const pkiDir = set.pki!.dir;
  await set.stop();
  for (const e of set.engines) {
    t.is(e.engine.pid(), null, `${e.name} stopped`);
    const swarmDir = join(e.engine.dataRoot, 'swarm');
    t.deepEqual(existsSync(swarmDir) ? readdirSync(swarmDir) : [], [], `${swarmDir} is empty`);
    t.true(existsSync(join(e.engine.dataRoot, 'image', 'overlay2', 'repositories.json')), `${e.name}'s data root is kept`);
    t.true(readFileSync(join(e.engine.dataRoot, 'image', 'overlay2', 'repositories.json'), 'utf8').includes(DEFAULT_SANDBOX_IMAGE.split(':')[0]!));
    t.false(existsSync(join(RUN_BASE, `${e.name}.harness`)));
  }
  const { stdout: processes } = await exec('ps', ['-eo', 'args']);
  t.false(/docker-sw-[abc]\.sock/.test(processes.split('\n').filter((l) => l.startsWith('dockerd')).join('\n')), 'no dockerd of the set runs');
  const mounts = readFileSync('/proc/mounts', 'utf8');
  t.false(/capsule-test-engines\/sw-[abc]\//.test(mounts), 'nothing mounted under the engines');
  const { stdout: listeners } = await exec('ss', ['-Htln']);
  t.false(/127\.0\.0\.[234]:(2376|2377|7946)\b/.test(listeners), listeners);
  t.false(existsSync(pkiDir), `${pkiDir} deleted`);
  t.false(/^(docker_gwbridge|capgw-0-[234])\s/m.test((await exec('ip', ['-br', 'link'])).stdout));
});
